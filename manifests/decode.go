package manifests

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree into a Go value by the json tags of its
// types (",inline" embedded structs are flattened, as Kubernetes does). It
// never stops at the first problem: each one is recorded with its path and
// line, and decoding carries on with the next field.
type decoder struct {
	doc     *Document
	budget  int  // nodes that may still be visited (alias-bomb guard)
	stopped bool // budget exhausted; the rest of the document is skipped
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (d *decoder) add(sev Severity, path string, line int, format string, args ...any) {
	d.doc.add(sev, path, line, fmt.Sprintf(format, args...))
}

// record remembers the first line seen for path.
func (d *decoder) record(path string, line int) {
	if _, ok := d.doc.lines[path]; !ok {
		d.doc.lines[path] = line
	}
}

// visit follows an alias and charges the budget. It returns nil once the
// budget is gone.
func (d *decoder) visit(n *yaml.Node) *yaml.Node {
	if d.stopped {
		return nil
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.budget--
	if d.budget < 0 {
		d.stopped = true
		d.add(Error, "", n.Line, "the document expands to too many values through YAML aliases (*name): write the values out instead of nesting aliases")
		return nil
	}
	return n
}

// decode stores n into v, which must be settable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n = d.visit(n); n == nil {
		return
	}
	d.record(path, n.Line)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero()
		return
	}
	if v.Kind() != reflect.Pointer && reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.add(Error, path, n.Line, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			d.decodeBytes(n, v, path)
		} else {
			d.decodeSlice(n, v, path)
		}
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *decoder) typeError(n *yaml.Node, v reflect.Value, path string) {
	d.add(Error, path, n.Line, "expected %s, got %s", describeType(v.Type()), describeNode(n))
}

type pair struct{ key, value *yaml.Node }

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, v, path)
		return
	}
	fields := fieldsOf(v.Type())
	seen := map[string]bool{}
	for _, p := range d.pairs(n, path, 0) {
		name := p.key.Value
		fpath := joinField(path, name)
		if seen[name] {
			d.add(Error, fpath, p.key.Line, "field %q is given twice: keep only one", name)
			continue
		}
		seen[name] = true
		idx, ok := fields[name]
		if !ok {
			d.unknownField(v.Type(), name, fpath, p.key.Line, fields)
			continue
		}
		d.record(fpath, p.key.Line)
		d.decode(p.value, v.FieldByIndex(idx), fpath)
	}
}

// unknownField classifies a key that has no Go field: Kubernetes fields
// berth lacks (support.go), cluster-only fields (clusteronly.go), or a
// plain mistake.
func (d *decoder) unknownField(owner reflect.Type, name, path string, line int, fields map[string][]int) {
	if detail, ok := unsupportedKey(owner, name); ok {
		d.add(Unsupported, path, line, "%s is not supported yet by berth%s", name, detail)
		return
	}
	if c, ok := clusterOnlyField(owner, name); ok {
		d.add(c.severity, path, line, "%s", c.message)
		return
	}
	if s := suggest(name, fields); s != "" {
		d.add(Error, path, line, "unknown field %q: did you mean %q?", name, s)
		return
	}
	d.add(Error, path, line, "unknown field %q: remove it, or check its spelling and indentation", name)
}

// suggest returns the known field closest to name (same letters ignoring
// case, or one edit away per four letters, at most two), or "".
func suggest(name string, fields map[string][]int) string {
	best, bestDist := "", min(2, max(1, len(name)/4))+1
	for known := range fields {
		dist := editDistance(strings.ToLower(name), strings.ToLower(known))
		if dist < bestDist || (dist == bestDist && known < best) {
			best, bestDist = known, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between two short strings.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 10
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// pairs lists a mapping's key/value pairs with YAML merge keys ("<<: *x")
// expanded: explicit keys win over merged ones, earlier merges over later.
// Keys that are not scalars are reported and dropped.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.visit(n.Content[i])
		if k == nil {
			return nil
		}
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			merged = append(merged, d.mergeSource(n.Content[i+1], path, depth)...)
		case k.Kind != yaml.ScalarNode:
			d.add(Error, path, k.Line, "expected a field name, got %s", describeNode(k))
		default:
			own = append(own, pair{k, n.Content[i+1]})
		}
	}
	if len(merged) == 0 {
		return own
	}
	have := make(map[string]bool, len(own))
	for _, p := range own {
		have[p.key.Value] = true
	}
	for _, p := range merged {
		if !have[p.key.Value] {
			have[p.key.Value] = true
			own = append(own, p)
		}
	}
	return own
}

const maxMergeDepth = 8

// mergeSource returns the pairs a "<<" value contributes: a mapping or a
// list of mappings.
func (d *decoder) mergeSource(n *yaml.Node, path string, depth int) []pair {
	if n = d.visit(n); n == nil {
		return nil
	}
	if depth >= maxMergeDepth {
		d.add(Error, path, n.Line, "YAML merge keys (<<) are nested more than %d deep", maxMergeDepth)
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path, depth+1)
	case yaml.SequenceNode:
		var out []pair
		for _, e := range n.Content {
			if e = d.visit(e); e == nil {
				return nil
			}
			if e.Kind != yaml.MappingNode {
				d.add(Error, path, e.Line, "a YAML merge key (<<) needs mappings, got %s", describeNode(e))
				continue
			}
			out = append(out, d.pairs(e, path, depth+1)...)
		}
		return out
	}
	d.add(Error, path, n.Line, "a YAML merge key (<<) needs a mapping or a list of mappings, got %s", describeNode(n))
	return nil
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, v, path)
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(n, path, 0) {
		kpath := joinKey(path, p.key.Value)
		if m.MapIndex(reflect.ValueOf(p.key.Value)).IsValid() {
			d.add(Error, kpath, p.key.Line, "key %q is given twice: keep only one", p.key.Value)
			continue
		}
		d.record(kpath, p.key.Line)
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(p.value, e, kpath)
		m.SetMapIndex(reflect.ValueOf(p.key.Value), e)
	}
	v.Set(m)
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, v, path)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		d.decode(e, s.Index(i), joinIndex(path, i))
	}
	v.Set(s)
}

// decodeBytes decodes base64 text (Secret data, ConfigMap binaryData).
func (d *decoder) decodeBytes(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!binary") {
		d.add(Error, path, n.Line, "expected base64 text, got %s", describeNode(n))
		return
	}
	b, err := base64.StdEncoding.DecodeString(n.Value)
	if err != nil {
		d.add(Error, path, n.Line, "value is not valid base64 (%v): encode it with base64, or put the plain text under stringData", err)
		return
	}
	v.SetBytes(b)
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.typeError(n, v, path)
		return
	}
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		if tag != "!!str" && tag != "!!timestamp" {
			d.add(Error, path, n.Line, "expected a string, got %s: put the value in quotes (%q)", describeNode(n), n.Value)
			return
		}
		if n.Style == 0 && yaml11Bools[n.Value] {
			d.add(Error, path, n.Line, "Kubernetes reads the unquoted %s as a boolean (YAML 1.1), so a cluster would refuse it: put it in quotes (%q)", n.Value, n.Value)
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if tag != "!!bool" || err != nil {
			d.add(Error, path, n.Line, "expected true or false, got %s", describeNode(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.decodeInt(n, v, path)
	default:
		// Only reachable if types.go gains a field kind the decoder does
		// not know; report it rather than panic on user input.
		d.add(Error, path, n.Line, "berth cannot decode a field of type %s", v.Type())
	}
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	tag := n.ShortTag()
	if tag == "!!float" && strings.Trim(n.Value, "+-0123456789") == "" {
		d.add(Error, path, n.Line, "number %s is out of range for a %d-bit integer", n.Value, v.Type().Bits())
		return
	}
	if tag != "!!int" {
		d.add(Error, path, n.Line, "expected an integer, got %s", describeNode(n))
		return
	}
	var i int64
	if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
		d.add(Error, path, n.Line, "number %s is out of range for a %d-bit integer", n.Value, v.Type().Bits())
		return
	}
	v.SetInt(i)
}

// fieldsOf maps the JSON names of t's fields (inline structs flattened) to
// their index paths. It is cached per type.
func fieldsOf(t reflect.Type) map[string][]int {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	addFields(m, t, nil)
	fieldCache.Store(t, m)
	return m
}

var fieldCache sync.Map // reflect.Type -> map[string][]int

func addFields(m map[string][]int, t reflect.Type, prefix []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := jsonName(f)
		idx := append(append([]int(nil), prefix...), i)
		if inline {
			addFields(m, f.Type, idx)
			continue
		}
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		m[name] = idx
	}
}

// jsonName returns the JSON name of struct field f and whether it is an
// inline embedding.
func jsonName(f reflect.StructField) (name string, inline bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name, f.Anonymous && name == "" && strings.Contains(opts, "inline")
}

func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func joinIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func joinKey(path, key string) string { return path + "[" + key + "]" }

// describeNode names what the user wrote, for "expected X, got Y".
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch n.ShortTag() {
	case "!!str":
		return fmt.Sprintf("the string %q", v)
	case "!!int":
		return "the integer " + v
	case "!!float":
		return "the number " + v
	case "!!bool":
		return "the boolean " + v
	case "!!null":
		return "null"
	case "!!timestamp":
		return "the timestamp " + v
	}
	return fmt.Sprintf("%q tagged %s", v, n.ShortTag())
}

// describeType names what a Go type expects in YAML.
func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return "an integer"
}

// yaml11Bools are the plain scalars YAML 1.2 (and berth's parser) reads as
// strings but YAML 1.1, which kubectl and the API server use, reads as
// booleans: berth refuses them where a string is expected, as a cluster
// would, instead of running a manifest a cluster refuses.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
}
