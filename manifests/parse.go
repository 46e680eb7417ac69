package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/berth-project/berth/internal/lazyre"
)

// MaxFileSize is the largest manifest file berth reads (1 MiB). Kubernetes
// objects are limited to about that size by etcd; a bigger file is a
// mistake or an attack.
const MaxFileSize = 1 << 20

// ParseFile reads and parses one manifest file. The error is only for I/O;
// problems with the content are in the returned File.
func ParseFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open manifest %s: %w", path, err)
	}
	defer f.Close()
	// Read one byte past the cap so that Parse can tell "too large".
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	return Parse(path, data), nil
}

// Parse parses the YAML or JSON documents in data. file names the source in
// problems. Every document is parsed even when others are bad.
func Parse(file string, data []byte) *File {
	f := &File{Path: file}
	if len(data) > MaxFileSize {
		f.problems = append(f.problems, Problem{File: file, Document: -1, Severity: Error,
			Message: fmt.Sprintf("the file is larger than %d bytes (1 MiB), the most berth reads: split it into several files", MaxFileSize)})
		return f
	}
	for _, c := range splitDocuments(data) {
		if d := parseDocument(file, len(f.Docs), c); d != nil {
			f.Docs = append(f.Docs, d)
		}
	}
	return f
}

// chunk is the text of one document and the line it starts on.
type chunk struct {
	text []byte
	line int
}

// splitDocuments cuts a stream at "---" lines, so that a syntax error in
// one document cannot hide the others. YAML forbids "---" at the start of a
// line inside a document, so this is exact.
func splitDocuments(data []byte) []chunk {
	var out []chunk
	start, startLine, line := 0, 1, 1
	for off := 0; off < len(data); line++ {
		end := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i + 1
		}
		if off > start && isDocumentStart(data[off:end]) {
			out = append(out, chunk{data[start:off], startLine})
			start, startLine = off, line
		}
		off = end
	}
	return append(out, chunk{data[start:], startLine})
}

func isDocumentStart(line []byte) bool {
	return bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || strings.ContainsRune(" \t\r\n", rune(line[3])))
}

// parseDocument parses one chunk. It returns nil for an empty document.
func parseDocument(file string, index int, c chunk) *Document {
	dec := yaml.NewDecoder(bytes.NewReader(c.text))
	var root yaml.Node
	err := dec.Decode(&root)
	if errors.Is(err, io.EOF) {
		return nil
	}
	doc := &Document{Index: index, Line: c.line, file: file, lines: map[string]int{}}
	if err != nil {
		doc.Problems = append(doc.Problems, syntaxProblem(doc, c.line, err))
		return doc
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		doc.Problems = append(doc.Problems, Problem{File: file, Document: index, Line: c.line + extra.Line - 1, Severity: Error,
			Message: "a second document starts here without a --- line: separate documents with ---"})
	case !errors.Is(err, io.EOF):
		doc.Problems = append(doc.Problems, syntaxProblem(doc, c.line, err))
	}
	nodes, expanded, cyclic := measure(&root, c.line-1)
	n := root.Content[0]
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && len(doc.Problems) == 0 {
		return nil
	}
	doc.Line = n.Line
	doc.lines[""] = n.Line
	if cyclic {
		doc.add(Error, "", n.Line, "a YAML alias (*name) refers to the value that contains its own anchor (&name): remove the cycle")
		return doc
	}
	if limit := expansionLimit(nodes); expanded > limit {
		doc.add(Error, "", n.Line, fmt.Sprintf("the document expands to more than %d values through YAML aliases (*name): write the values out instead of nesting aliases", limit))
		return doc
	}
	decodeObject(doc, n, expansionLimit(nodes))
	sortProblems(doc.Problems)
	return doc
}

func (d *Document) add(sev Severity, path string, line int, msg string) {
	d.Problems = append(d.Problems, Problem{File: d.file, Document: d.Index, Path: path, Line: line, Severity: sev, Message: msg})
}

var yamlLineRE = lazyre.New(`(?s)^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a yaml.v3 error into a Problem on the file's line.
func syntaxProblem(doc *Document, firstLine int, err error) Problem {
	msg, line := strings.TrimPrefix(err.Error(), "yaml: "), firstLine
	if m := yamlLineRE().FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		line, msg = firstLine+n-1, m[2]
	}
	return Problem{File: doc.file, Document: doc.Index, Line: line, Severity: Error, Message: "YAML syntax error: " + msg}
}

// expansionLimit is how many values a document of n nodes may expand to
// through aliases: generous for sharing a block a few times, far below an
// alias bomb.
func expansionLimit(nodes int) int { return 10*nodes + 10_000 }

// measure shifts every node's line by offset (chunk lines to file lines)
// and returns the number of nodes written and the number they expand to
// with aliases followed. Alias targets are memoised, so a bomb is measured
// in linear time; the count saturates instead of overflowing. cyclic
// reports an alias inside the value of its own anchor, which yaml.v3
// accepts and which would expand forever.
func measure(root *yaml.Node, offset int) (nodes, expanded int, cyclic bool) {
	var shift func(n *yaml.Node)
	shift = func(n *yaml.Node) {
		nodes++
		n.Line += offset
		for _, c := range n.Content {
			shift(c)
		}
	}
	shift(root)
	const inProgress = -1
	memo := map[*yaml.Node]int{}
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			return size(n.Alias)
		}
		if s, ok := memo[n]; ok {
			cyclic = cyclic || s == inProgress
			return max(s, 0)
		}
		memo[n] = inProgress
		s := 1
		for _, c := range n.Content {
			s = min(s+size(c), 1<<40)
		}
		memo[n] = s
		return s
	}
	return nodes, size(root), cyclic
}

// kinds maps each accepted kind to a constructor of its object.
var kinds = map[string]func(d *Document) any{
	"Pod":       func(d *Document) any { d.Pod = &Pod{}; return d.Pod },
	"ConfigMap": func(d *Document) any { d.ConfigMap = &ConfigMap{}; return d.ConfigMap },
	"Secret":    func(d *Document) any { d.Secret = &Secret{}; return d.Secret },
	"PersistentVolumeClaim": func(d *Document) any {
		d.Claim = &PersistentVolumeClaim{}
		return d.Claim
	},
}

// decodeObject decodes, defaults and validates the object in mapping n.
func decodeObject(doc *Document, n *yaml.Node, budget int) {
	if n.Kind != yaml.MappingNode {
		doc.add(Error, "", n.Line, fmt.Sprintf("a document must be a Kubernetes object (a mapping with apiVersion, kind and metadata), got %s", describeNode(n)))
		return
	}
	kind, kindLine := topLevelScalar(n, "kind")
	doc.Kind = kind
	newObject, ok := kinds[kind]
	switch {
	case kindLine == 0:
		doc.add(Error, "kind", n.Line, "kind is missing: set kind to Pod, ConfigMap, Secret or PersistentVolumeClaim")
		return
	case !ok:
		doc.add(Error, "kind", kindLine, fmt.Sprintf("kind %q is not accepted: berth reads Pod, ConfigMap, Secret and PersistentVolumeClaim documents", clip(kind)))
		return
	}
	obj := newObject(doc)
	d := &decoder{doc: doc, budget: budget}
	d.decode(n, reflect.ValueOf(obj).Elem(), "")
	if d.stopped {
		return
	}
	checkAPIVersion(doc)
	var found []Problem
	switch o := obj.(type) {
	case *Pod:
		found = pullAlwaysWarnings(&o.Spec) // what the user wrote, before defaults
		SetDefaults(o)
		found = append(found, ValidatePod(o)...)
	case *ConfigMap:
		defaultObjectMeta(&o.ObjectMeta)
		found = ValidateConfigMap(o)
	case *Secret:
		defaultObjectMeta(&o.ObjectMeta)
		if o.Type == "" {
			o.Type = "Opaque"
		}
		found = ValidateSecret(o)
		mergeStringData(o)
	case *PersistentVolumeClaim:
		defaultObjectMeta(&o.ObjectMeta)
		if o.Spec.VolumeMode == "" {
			o.Spec.VolumeMode = "Filesystem"
		}
		found = ValidateClaim(o)
	}
	attach(doc, found)
}

// topLevelScalar returns the value and line of a scalar key of mapping n
// (line 0 when absent).
func topLevelScalar(n *yaml.Node, key string) (string, int) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != key {
			continue
		}
		v := n.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		return v.Value, n.Content[i].Line
	}
	return "", 0
}

func checkAPIVersion(doc *Document) {
	var got string
	switch {
	case doc.Pod != nil:
		got = doc.Pod.APIVersion
	case doc.ConfigMap != nil:
		got = doc.ConfigMap.APIVersion
	case doc.Secret != nil:
		got = doc.Secret.APIVersion
	case doc.Claim != nil:
		got = doc.Claim.APIVersion
	}
	if got == "v1" || hasProblemAt(doc.Problems, "apiVersion") {
		return
	}
	if got == "" {
		doc.add(Error, "apiVersion", doc.LineOf("apiVersion"), "apiVersion is missing: set apiVersion: v1")
		return
	}
	doc.add(Error, "apiVersion", doc.LineOf("apiVersion"), fmt.Sprintf("apiVersion %q is not valid for %s: use v1", clip(got), doc.Kind))
}

func hasProblemAt(ps []Problem, path string) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Path == path })
}

// attach adds validation problems to doc with their lines. A field that
// already failed to decode is not judged again, nor is a field that holds
// one (its zero value, or a list of sources missing the one berth lacks,
// would only produce a second, confusing message).
func attach(doc *Document, found []Problem) {
	bad := map[string]bool{}   // paths with a refusing decode problem
	above := map[string]bool{} // those paths and all their ancestors
	for _, p := range doc.Problems {
		if p.Refuses() && p.Path != "" {
			bad[p.Path] = true
			forPrefixes(p.Path, func(prefix string) { above[prefix] = true })
		}
	}
	for _, p := range found {
		covered := above[p.Path]
		forPrefixes(p.Path, func(prefix string) { covered = covered || bad[prefix] })
		if !covered {
			doc.add(p.Severity, p.Path, doc.LineOf(p.Path), p.Message)
		}
	}
}

// forPrefixes calls fn with path and each of its ancestors
// ("a.b[0]" -> "a.b[0]", "a.b", "a").
func forPrefixes(path string, fn func(string)) {
	fn(path)
	for i := len(path) - 1; i > 0; i-- {
		if path[i] == '.' || path[i] == '[' {
			fn(path[:i])
		}
	}
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
}

// mergeStringData folds stringData into data, as the API server does
// (stringData wins).
func mergeStringData(s *Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}
