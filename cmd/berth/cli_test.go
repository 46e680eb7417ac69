package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// run executes the CLI in-process and returns its output and exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	var ec exitCoder
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ec):
		return out.String() + ec.Error(), ec.ExitCode()
	default:
		return out.String() + err.Error(), 1
	}
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const validPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: main
    image: demo
`

func TestValidateExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := write(t, dir, "good.yaml", validPod)
	warn := write(t, dir, "warn.yaml", strings.Replace(validPod, "spec:\n", "spec:\n  nodeName: node-1\n", 1))
	bad := write(t, dir, "bad.yaml", strings.Replace(validPod, "image: demo", "image: demo\n    volumeMounts: [{name: nope, mountPath: /x}]", 1))

	if out, code := run(t, "validate", good); code != 0 {
		t.Errorf("valid file: exit %d\n%s", code, out)
	}
	out, code := run(t, "validate", warn)
	if code != 0 || !strings.Contains(out, "warning") || !strings.Contains(out, "spec.nodeName") {
		t.Errorf("warnings only: exit %d, want 0 with the warning shown\n%s", code, out)
	}
	out, code = run(t, "validate", good, bad)
	if code != 1 || !strings.Contains(out, "spec.containers[0].volumeMounts[0].name") || !strings.Contains(out, "bad.yaml") {
		t.Errorf("invalid file: exit %d, want 1 naming file and field\n%s", code, out)
	}
	if _, code := run(t, "validate", dir); code != 1 {
		t.Errorf("directory holding an invalid file: exit %d, want 1", code)
	}
}

func TestSplitDocuments(t *testing.T) {
	in := "# head\na: 1\n---\nb: 2\n--- \nc: 3\n---\n\n"
	docs := splitDocuments([]byte(in))
	want := []string{"# head\na: 1\n", "b: 2\n", "c: 3\n"}
	if len(docs) != len(want) {
		t.Fatalf("%d documents: %q", len(docs), docs)
	}
	for i := range want {
		if string(docs[i]) != want[i] {
			t.Errorf("document %d = %q, want %q", i, docs[i], want[i])
		}
	}
}

func TestRemoveFromDirKeepsOtherDocuments(t *testing.T) {
	dir := t.TempDir()
	other := strings.Replace(validPod, "name: web", "name: api", 1)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata: {a: b}\n"
	both := write(t, dir, "both.yaml", validPod+"---\n"+other)
	only := write(t, dir, "only.yaml", strings.Replace(validPod, "name: web", "name: solo", 1)+"---\n"+cm)
	var out bytes.Buffer
	if err := removeFromDir(&out, dir, []objectKey{{"Pod", "default", "web"}, {"Pod", "default", "solo"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(both)
	if err != nil || strings.Contains(string(b), "name: web") || !strings.Contains(string(b), "name: api") {
		t.Errorf("both.yaml after removing web: %q, %v", b, err)
	}
	if b, err := os.ReadFile(only); err != nil || strings.Contains(string(b), "kind: Pod") || !strings.Contains(string(b), "kind: ConfigMap") {
		t.Errorf("only.yaml after removing its pod must keep the ConfigMap: %q, %v", b, err)
	}
	if err := removeFromDir(&out, dir, []objectKey{{"ConfigMap", "default", "cfg"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(only); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("only.yaml, left without documents, still exists: %v", err)
	}
	if err := removeFromDir(&out, dir, []objectKey{{"Pod", "default", "ghost"}}); err == nil {
		t.Error("removing an undeclared pod succeeded")
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5s", 150 * time.Second: "2m30s", 30 * time.Minute: "30m",
		5 * time.Hour: "5h0m", 20 * time.Hour: "20h", 72 * time.Hour: "3d",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
