package manifests

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var updateRealWorld = flag.Bool("update", false, "rewrite testdata/realworld.golden from the current results")

// realWorldFloor is how many files of testdata/realworld validate today.
// TestRealWorldCorpus fails when fewer do, so that a change which starts
// refusing a field real manifests use is caught. When a feature lands and
// the count goes up, raise the floor to the new count (the test logs it)
// in the same commit, with `go test ./manifests -run TestRealWorldCorpus
// -update` to rewrite the golden file.
const realWorldFloor = 64

// realWorldGolden lists, for each file of testdata/realworld, "ok" or the
// path of the first field berth refuses as not supported yet.
const realWorldGolden = "testdata/realworld.golden"

// TestRealWorldCorpus measures how much of testdata/realworld berth runs.
// The files are Pods written in the shapes real manifests have (kubeadm's
// static pods, add-ons, the Kubernetes documentation's task examples), each
// with the ConfigMaps and Secrets it uses. A field berth does not support
// yet is a measurement, not a failure; a file that is not valid Kubernetes
// is a mistake in the corpus and fails the test.
func TestRealWorldCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "realworld", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("testdata/realworld has %d files, want at least 40", len(files))
	}
	var golden strings.Builder
	firstRefused := map[string]int{} // generic field path -> files it refuses first
	anyRefused := map[string]int{}   // generic field path -> files refused (also) for it
	ok := 0
	for _, path := range files {
		name := filepath.Base(path)
		result, refused := checkRealWorld(t, path)
		if result == "ok" {
			ok++
		} else {
			firstRefused[genericPath(result)]++
		}
		for _, p := range refused {
			anyRefused[p]++
		}
		t.Logf("%s: %s", name, result)
		fmt.Fprintf(&golden, "%s: %s\n", name, result)
	}
	t.Logf("real-world corpus: %d of %d files validate", ok, len(files))
	for _, line := range tally(firstRefused) {
		t.Logf("first refused: %s", line)
	}
	for _, line := range tally(anyRefused) {
		t.Logf("refused at all: %s", line)
	}
	if ok < realWorldFloor {
		t.Errorf("%d files validate, fewer than the floor of %d: a change refuses fields it used to accept", ok, realWorldFloor)
	}
	checkGolden(t, golden.String())
}

// checkRealWorld parses one corpus file and returns "ok", the path of its
// first field not supported yet, or "invalid", and the generic paths of
// every refused field. Anything invalid fails the test.
func checkRealWorld(t *testing.T, path string) (result string, refused []string) {
	t.Helper()
	name := filepath.Base(path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# shape: ") {
		t.Errorf("%s: the first line must be a \"# shape: \" comment naming the manifest it reproduces", name)
	}
	f := Parse(path, data)
	pods := 0
	objects := map[string]bool{} // kind/namespace/name of the file's ConfigMaps and Secrets
	for _, d := range f.Docs {
		switch {
		case d.Pod != nil:
			pods++
		case d.ConfigMap != nil:
			objects["ConfigMap/"+namespaceOf(d.ConfigMap.ObjectMeta)+"/"+d.ConfigMap.Name] = true
		case d.Secret != nil:
			objects["Secret/"+namespaceOf(d.Secret.ObjectMeta)+"/"+d.Secret.Name] = true
		}
	}
	if pods != 1 {
		t.Errorf("%s: has %d pods, want exactly 1", name, pods)
	}
	seen := map[string]bool{}
	invalid := false
	for _, p := range f.Problems() {
		switch p.Severity {
		case Error:
			t.Errorf("%s is not valid Kubernetes: %v", name, p)
			invalid = true
		case Unsupported:
			if result == "" {
				result = p.Path
			}
			if g := genericPath(p.Path); !seen[g] {
				seen[g] = true
				refused = append(refused, g)
			}
		}
	}
	for _, d := range f.Docs {
		if d.Pod == nil {
			continue
		}
		ns := namespaceOf(d.Pod.ObjectMeta)
		for _, r := range References(d.Pod) {
			if !r.Optional && !objects[r.Kind+"/"+ns+"/"+r.Name] {
				t.Errorf("%s: %s refers to %s %q, which the file does not declare in namespace %s", name, r.Path, r.Kind, r.Name, ns)
			}
		}
	}
	switch {
	case invalid:
		result = "invalid"
	case result == "":
		result = "ok"
	}
	return result, refused
}

func namespaceOf(m ObjectMeta) string { return cmp.Or(m.Namespace, "default") }

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

// genericPath drops list indices and map keys from a field path, so that
// the same field in different containers counts once:
// spec.containers[1].livenessProbe -> spec.containers.livenessProbe.
func genericPath(path string) string { return indexRE.ReplaceAllString(path, "") }

// tally renders counts as "n path", largest first, then by path.
func tally(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return out
}

func checkGolden(t *testing.T, got string) {
	t.Helper()
	if *updateRealWorld {
		if err := os.WriteFile(realWorldGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(realWorldGolden)
	if err != nil {
		t.Fatalf("%v: run `go test ./manifests -run TestRealWorldCorpus -update` to write it", err)
	}
	if got != string(want) {
		t.Errorf("the real-world corpus results differ from %s: review the change, then run `go test ./manifests -run TestRealWorldCorpus -update`\ngot:\n%s\nwant:\n%s", realWorldGolden, got, want)
	}
}
