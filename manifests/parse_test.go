package manifests

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func mustParse(t *testing.T, name string) *File {
	t.Helper()
	f, err := ParseFile(filepath.Join("testdata", "corpus", name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseMultiDocument(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "v03-multi.yaml")
	if len(f.Docs) != 3 {
		t.Fatalf("got %d documents, want 3", len(f.Docs))
	}
	cm, sec, pod := f.Docs[0], f.Docs[1], f.Docs[2]
	if cm.ConfigMap == nil || cm.Kind != "ConfigMap" || cm.ConfigMap.Data["log.level"] != "debug" || cm.ConfigMap.Namespace != "default" {
		t.Errorf("document 1: %+v", cm.ConfigMap)
	}
	if sec.Secret == nil || string(sec.Secret.Data["token"]) != "secret" || string(sec.Secret.Data["password"]) != "hunter2" || sec.Secret.StringData != nil {
		t.Errorf("document 2: stringData not merged into data: %+v", sec.Secret)
	}
	if pod.Pod == nil || pod.Index != 2 || pod.Line != 20 || pod.Pod.Spec.Containers[0].Image != "app:v1" {
		t.Errorf("document 3: index %d line %d pod %+v", pod.Index, pod.Line, pod.Pod)
	}
}

func TestParseSkipsEmptyDocuments(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "v07-empty-documents.yaml")
	if len(f.Docs) != 1 || f.Docs[0].Index != 0 || f.Docs[0].Line != 6 || f.Docs[0].Pod.Name != "after-empties" {
		t.Fatalf("got %d documents: %+v", len(f.Docs), f.Docs)
	}
}

func TestParseAnchorsAndMerges(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "v05-anchors.yaml")
	cs := f.Docs[0].Pod.Spec.Containers
	if cs[1].Name != "two" || cs[1].Image != "busybox:1.36" || cs[1].Env[0].Value != "shared" {
		t.Errorf("merged container: %+v", cs[1])
	}
	req := cs[2].Resources.Requests
	if req["cpu"].String() != "50m" || req["memory"].String() != "32Mi" {
		t.Errorf("merged requests: %v", req)
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "v06-hostnetwork.yaml")
	p := f.Docs[0].Pod
	port := p.Spec.Containers[0].Ports[0]
	if port.HostPort != 9100 || port.Protocol != "TCP" {
		t.Errorf("hostNetwork port not defaulted: %+v", port)
	}
	if p.Spec.Containers[0].ImagePullPolicy != "IfNotPresent" || *p.Spec.TerminationGracePeriodSeconds != 30 || p.Spec.RestartPolicy != "Always" {
		t.Errorf("defaults missing: %+v", p.Spec)
	}
}

func TestParseHugeFile(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n")
	for i := 0; b.Len() <= MaxFileSize; i++ {
		b.WriteString("  k" + strings.Repeat("x", 100) + string(rune('a'+i%26)) + ": v\n")
	}
	f := Parse("big.yaml", b.Bytes())
	ps := f.Problems()
	if len(ps) != 1 || ps[0].Document != -1 || !strings.Contains(ps[0].Message, "1 MiB") || len(f.Docs) != 0 || !f.HasErrors() {
		t.Fatalf("got %v", ps)
	}
	if got, want := ps[0].String(), "big.yaml: the file is larger"; !strings.HasPrefix(got, want) {
		t.Errorf("String() = %q, want prefix %q", got, want)
	}
	// ParseFile reads at most one byte past the cap.
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(path)
	if err != nil || len(f.Problems()) != 1 {
		t.Fatalf("ParseFile: %v, %v", err, f.Problems())
	}
}

func TestParseFileMissing(t *testing.T) {
	t.Parallel()
	if _, err := ParseFile(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want a not-exist error", err)
	}
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "pod.yaml", Document: 1, Path: "spec.containers[1].volumeMounts[0].name", Line: 23, Message: `volume "data" is not declared in spec.volumes`},
			`pod.yaml: document 2: spec.containers[1].volumeMounts[0].name (line 23): volume "data" is not declared in spec.volumes`},
		{Problem{File: "pod.yaml", Document: 0, Line: 4, Message: "YAML syntax error: x"}, "pod.yaml: document 1: (line 4): YAML syntax error: x"},
		{Problem{File: "pod.yaml", Document: 0, Path: "spec.nodeName", Line: 9, Severity: Warning, Message: "nodeName is ignored"}, "pod.yaml: document 1: spec.nodeName (line 9): warning: nodeName is ignored"},
		{Problem{File: "pod.yaml", Document: -1, Message: "too large"}, "pod.yaml: too large"},
		{Problem{Document: -1, Path: "spec", Message: "m"}, "spec: m"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q\nwant        %q", got, tt.want)
		}
		if tt.p.Error() != tt.want {
			t.Errorf("Error() differs from String()")
		}
	}
}

func TestSeverityString(t *testing.T) {
	t.Parallel()
	for s, want := range map[Severity]string{Error: "invalid", Unsupported: "not supported yet", Warning: "warning", 7: "severity(7)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

func TestParseSecondDocumentWithoutSeparator(t *testing.T) {
	t.Parallel()
	data := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\n%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
	f := Parse("x.yaml", []byte(data))
	if len(f.Docs) != 2 || f.Docs[1].ConfigMap == nil || f.Docs[1].ConfigMap.Name != "b" {
		t.Fatalf("docs: %+v problems: %v", f.Docs, f.Problems())
	}
	// "..." ends document 1; what follows is a syntax error of that chunk
	// unless a --- starts a new document.
	f = Parse("x.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\nkind: Pod\n"))
	if !f.HasErrors() {
		t.Errorf("content after ... was ignored silently: %v", f.Problems())
	}
}

func TestDecoderBudget(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("metadata: {name: a, labels: {x: y, z: w}}\n"), &root); err != nil {
		t.Fatal(err)
	}
	doc := &Document{lines: map[string]int{}}
	d := &decoder{doc: doc, budget: 3}
	var p Pod
	d.decode(root.Content[0], reflect.ValueOf(&p).Elem(), "")
	if !d.stopped || len(doc.Problems) != 1 || !strings.Contains(doc.Problems[0].Message, "aliases") {
		t.Fatalf("budget not enforced: stopped=%v problems=%v", d.stopped, doc.Problems)
	}
}

func TestLineOf(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "x04-undeclared-volume.yaml")
	d := f.Docs[0]
	tests := map[string]int{
		"":                                   1,
		"spec.containers[1]":                 12,
		"spec.containers[1].volumeMounts[1]": 17,
		"spec.containers[1].volumeMounts[1].name":      17,
		"spec.containers[1].volumeMounts[1].mountPath": 18,
		"spec.containers[1].volumeMounts[1].subPath":   17, // not written: its parent
		"spec.hostname": 5,
		"nothing.here":  1,
	}
	for path, want := range tests {
		if got := d.LineOf(path); got != want {
			t.Errorf("LineOf(%q) = %d, want %d", path, got, want)
		}
	}
	p := d.ProblemAt(Error, "spec.volumes[0].name", `configMap "x" is missing`)
	if p.Line != 7 || p.File != f.Path || p.Document != 0 {
		t.Errorf("ProblemAt = %+v", p)
	}
}

func TestSplitDocuments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		lines []int
	}{
		{"a: 1\n", []int{1}},
		{"---\na: 1\n---\nb: 2\n", []int{1, 3}},
		{"a: 1\n---\n", []int{1, 2}},
		{"a: |\n  ---x\n----\n--- # c\nb: 1", []int{1, 4}},
		{"a: 1\r\n---\r\nb: 1\r\n", []int{1, 2}},
	}
	for _, tt := range tests {
		var got []int
		for _, c := range splitDocuments([]byte(tt.in)) {
			got = append(got, c.line)
		}
		if !reflect.DeepEqual(got, tt.lines) {
			t.Errorf("splitDocuments(%q) starts at lines %v, want %v", tt.in, got, tt.lines)
		}
	}
}

// TestYAML11BooleansInStrings: the plain scalars YAML 1.1 reads as
// booleans are refused where a string goes, as a cluster refuses them;
// quoted, or in a boolean field, they are fine.
func TestYAML11BooleansInStrings(t *testing.T) {
	tests := []struct {
		value string
		bad   bool
	}{
		{"y", true}, {"Yes", true}, {"no", true}, {"ON", true}, {"off", true},
		{`"y"`, false}, {`'off'`, false}, {"yy", false}, {"x", false}, {"nope", false},
	}
	for _, tt := range tests {
		doc := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  k: " + tt.value + "\n"
		f := Parse("cm.yaml", []byte(doc))
		got := false
		for _, p := range f.Problems() {
			if p.Path == "data[k]" && strings.Contains(p.Message, "YAML 1.1") {
				got = true
			}
		}
		if got != tt.bad {
			t.Errorf("data.k: %s: refused %v, want %v (problems %v)", tt.value, got, tt.bad, f.Problems())
		}
	}
}
