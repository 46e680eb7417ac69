package k8scompat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/berth-project/berth/manifests"
)

// manifestFiles are the manifests berth ships and tests with: every
// example, and every file of the parser's corpus (whose valid documents
// are checked; berth's own validator says which those are).
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"../../examples/*.yaml", "../../manifests/testdata/corpus/*", "../../manifests/testdata/realworld/*.yaml"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			t.Fatalf("no file matches %s: has the repository moved?", pat)
		}
		files = append(files, m...)
	}
	return files
}

// yamlDocuments splits a manifest stream into its non-empty documents,
// each converted to JSON as kubectl does (sigs.k8s.io/yaml: anchors and
// merge keys resolved, a merge key's entries overridden by the mapping's
// own). A document it cannot read is returned as nil with its error.
func yamlDocuments(data []byte) ([][]byte, []error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	var errs []error
	for {
		chunk, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, errs
		}
		if err != nil {
			return append(docs, nil), append(errs, err)
		}
		j, err := yaml.YAMLToJSON(chunk)
		if err != nil {
			docs, errs = append(docs, nil), append(errs, err)
			continue
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
			continue
		}
		docs, errs = append(docs, j), append(errs, nil)
	}
}

// kubeObject is an empty object of the Kubernetes type for kind.
func kubeObject(kind string) any {
	switch kind {
	case "Pod":
		return &corev1.Pod{}
	case "ConfigMap":
		return &corev1.ConfigMap{}
	case "Secret":
		return &corev1.Secret{}
	case "PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	}
	return nil
}

// TestManifestsDecodeStrictly: every document berth accepts, in the
// examples and the test corpus, is a valid object to Kubernetes' strict
// decoder (no unknown field, every value of the right type), so nothing
// berth runs would be refused by a cluster.
func TestManifestsDecodeStrictly(t *testing.T) {
	checked := map[string]int{}
	for _, file := range manifestFiles(t) {
		name := filepath.Base(filepath.Dir(file)) + "/" + filepath.Base(file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f := manifests.Parse(file, data)
		if strings.Contains(file, "/examples/") && f.HasErrors() {
			t.Errorf("%s: berth refuses an example: %v", name, f.Problems())
		}
		docs, errs := yamlDocuments(data)
		valid := 0
		for _, d := range f.Docs {
			if !d.HasErrors() {
				valid++
			}
		}
		if valid == 0 {
			continue
		}
		if len(docs) != len(f.Docs) {
			t.Errorf("%s: Kubernetes' YAML reader sees %d documents, berth %d", name, len(docs), len(f.Docs))
			continue
		}
		for i, d := range f.Docs {
			if d.HasErrors() {
				continue
			}
			if errs[i] != nil {
				t.Errorf("%s document %d: berth accepts it, Kubernetes' YAML reader refuses it: %v", name, i+1, errs[i])
				continue
			}
			obj := kubeObject(d.Kind)
			if obj == nil {
				t.Errorf("%s document %d: berth accepts kind %q", name, i+1, d.Kind)
				continue
			}
			if err := strictJSON(docs[i], obj); err != nil {
				t.Errorf("%s document %d: berth accepts it, a strict v1.%s decoder refuses it: %v", name, i+1, d.Kind, err)
			}
			checked[d.Kind]++
		}
	}
	for _, kind := range []string{"Pod", "ConfigMap", "Secret", "PersistentVolumeClaim"} {
		if checked[kind] == 0 {
			t.Errorf("no valid %s document was checked", kind)
		}
	}
	t.Logf("checked %v", checked)
}

// TestBerthEncodingRoundTrips: what berth makes of each valid document
// (defaults applied) is, written as JSON, a v1 object a strict decoder
// takes and re-encodes without losing a field: berth's types are a
// faithful subset of Kubernetes'.
func TestBerthEncodingRoundTrips(t *testing.T) {
	n := 0
	for _, file := range manifestFiles(t) {
		f, err := manifests.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Docs {
			if d.HasErrors() {
				continue
			}
			var obj any
			switch {
			case d.Pod != nil:
				obj = d.Pod
			case d.ConfigMap != nil:
				obj = d.ConfigMap
			case d.Secret != nil:
				obj = d.Secret
			case d.Claim != nil:
				obj = d.Claim
			}
			b, err := json.Marshal(obj)
			if err != nil {
				t.Fatalf("%s document %d: %v", file, d.Index+1, err)
			}
			lost, err := roundTrip(b, kubeObject(d.Kind))
			if err != nil {
				t.Errorf("%s document %d: %v\n%s", file, d.Index+1, err, b)
				continue
			}
			if len(lost) > 0 {
				t.Errorf("%s document %d: the v1.%s round trip loses:%s", file, d.Index+1, d.Kind, lostReport(lost))
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no document checked")
	}
}

// TestRealWorldCorpusIsKubernetes: every document of the real-world
// corpus, those berth refuses as not supported yet included, is valid to
// Kubernetes' strict decoder: the corpus measures berth against manifests
// a cluster would run, so none of them may be made up.
func TestRealWorldCorpusIsKubernetes(t *testing.T) {
	files, err := filepath.Glob("../../manifests/testdata/realworld/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no real-world corpus found: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		docs, errs := yamlDocuments(data)
		for i, d := range docs {
			if errs[i] != nil {
				t.Errorf("%s document %d: %v", filepath.Base(file), i+1, errs[i])
				continue
			}
			var meta struct{ Kind string }
			if err := json.Unmarshal(d, &meta); err != nil {
				t.Errorf("%s document %d: %v", filepath.Base(file), i+1, err)
				continue
			}
			obj := kubeObject(meta.Kind)
			if obj == nil {
				t.Errorf("%s document %d: kind %q is not a Pod, ConfigMap or Secret", filepath.Base(file), i+1, meta.Kind)
				continue
			}
			if err := strictJSON(d, obj); err != nil {
				t.Errorf("%s document %d: a strict v1.%s decoder refuses it: %v", filepath.Base(file), i+1, meta.Kind, err)
			}
		}
	}
}
