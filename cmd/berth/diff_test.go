package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifests"
)

const diffWeb = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: web
    image: demo:1
    env: [{name: MODE, value: fast}]
    resources:
      limits: {cpu: 500m, memory: 64Mi}
  - name: side
    image: demo:1
`

const diffPair = `apiVersion: v1
kind: Pod
metadata:
  name: a
spec:
  containers: [{name: main, image: demo:1}]
---
apiVersion: v1
kind: Pod
metadata:
  name: b
spec:
  containers: [{name: main, image: demo:1}]
`

const diffNew = `apiVersion: v1
kind: Pod
metadata:
  name: new
spec:
  containers: [{name: main, image: demo:1}]
`

// diffEdits are the golden cases: an input file, and what berth diff
// prints for it against the base manifests (diffWeb, diffPair).
var diffEdits = []struct {
	name, file, content string
	want                string
}{
	{"unchanged", "web.yaml", diffWeb, `
pod default/web: unchanged
`},
	{"image of one container", "web.yaml", strings.Replace(diffWeb, "  - name: side\n    image: demo:1", "  - name: side\n    image: demo:2", 1), `
pod default/web: update in place (the pod and its other containers keep running)
  restart side: spec.containers[name=side].image
`},
	{"env", "web.yaml", strings.Replace(diffWeb, "value: fast", "value: slow", 1), `
pod default/web: update in place (the pod and its other containers keep running)
  restart web: spec.containers[name=web].env[name=MODE]
`},
	{"memory limit, resizePolicy NotRequired by default", "web.yaml", strings.Replace(diffWeb, "memory: 64Mi", "memory: 128Mi", 1), `
pod default/web: update in place (the pod and its other containers keep running)
  resize web live: spec.containers[name=web].resources.limits.memory
`},
	{"volume added", "web.yaml", strings.Replace(diffWeb, "    emptyDir: {}\n", "    emptyDir: {}\n  - name: cache\n    emptyDir: {medium: Memory}\n", 1), `
pod default/web: replace (the change reaches the pod)
  spec.volumes[name=cache]
`},
	{"label only", "web.yaml", strings.Replace(diffWeb, "app: web", "app: web, tier: front", 1), `
pod default/web: update (labels changed; nothing restarts)
  metadata.labels
`},
	{"new pod", "new.yaml", diffNew, `
pod default/new: create (declared in new.yaml)
`},
	{"removed pod", "pair.yaml", diffPair[:strings.Index(diffPair, "---")], `
pod default/b: delete (no longer declared in any manifest)
pod default/a: unchanged
`},
}

// diffBase writes the base manifests into a manifest directory.
func diffBase(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "web.yaml", diffWeb)
	write(t, dir, "pair.yaml", diffPair)
	return dir
}

// fakeDaemon serves GET /v1/pods on a unix socket with the pods the
// manifest directory declares, as the daemon shows them (its own
// annotations added), and returns the socket's path.
func fakeDaemon(t *testing.T, dir string) string {
	t.Helper()
	var list api.PodList
	for _, name := range []string{"web.yaml", "pair.yaml"} {
		f, err := manifests.ParseFile(filepath.Join(dir, name))
		if err != nil || f.HasErrors() {
			t.Fatalf("base manifest %s: %v %v", name, err, f.Problems())
		}
		for _, d := range f.Docs {
			p := api.Pod{APIVersion: "v1", Kind: "Pod", Spec: d.Pod.Spec}
			p.Metadata.ObjectMeta = d.Pod.ObjectMeta
			p.Metadata.UID = "uid-" + d.Pod.Name
			p.SetAnnotation(api.AnnotationFile, filepath.Join(dir, name))
			p.SetAnnotation(api.AnnotationInfraPID, "4242")
			list.Items = append(list.Items, p)
		}
	}
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/pods", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(list)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestDiffGolden(t *testing.T) {
	for _, daemon := range []bool{true, false} {
		for _, tt := range diffEdits {
			t.Run(map[bool]string{true: "daemon", false: "files"}[daemon]+"/"+tt.name, func(t *testing.T) {
				dir := diffBase(t)
				sock := filepath.Join(t.TempDir(), "none.sock")
				header := "compared with the files of " + dir + " (no daemon answers at " + sock + ")"
				if daemon {
					sock = fakeDaemon(t, dir)
					header = "compared with the pods the running daemon reports"
				}
				in := write(t, t.TempDir(), tt.file, tt.content)
				out, code := run(t, "--manifests", dir, "--socket", sock, "diff", "-f", in)
				if want := header + tt.want; out != want {
					t.Errorf("berth diff printed\n%s\nwant\n%s", out, want)
				}
				wantCode := 1
				if tt.name == "unchanged" {
					wantCode = 0
				}
				if code != wantCode {
					t.Errorf("exit %d, want %d", code, wantCode)
				}

				before, _ := os.ReadFile(filepath.Join(dir, tt.file))
				out, code = run(t, "--manifests", dir, "--socket", sock, "apply", "--dry-run", "-f", in)
				if want := header + tt.want; out != want || code != 0 {
					t.Errorf("berth apply --dry-run: exit %d, printed\n%s\nwant exit 0 and\n%s", code, out, want)
				}
				if after, _ := os.ReadFile(filepath.Join(dir, tt.file)); string(after) != string(before) {
					t.Errorf("apply --dry-run changed %s", tt.file)
				}
			})
		}
	}
}

func TestDiffErrorsExitAboveOne(t *testing.T) {
	dir := diffBase(t)
	sock := fakeDaemon(t, dir)
	in := t.TempDir()
	bad := write(t, in, "web.yaml", strings.Replace(diffWeb, "    image: demo:1\n    env", "    env", 1))
	other := write(t, in, "other.yaml", diffNew+"---\n"+strings.Replace(diffNew, "name: new", "name: a", 1))
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"invalid manifest", []string{"diff", "-f", bad}, "spec.containers[0].image"},
		{"missing file", []string{"diff", "-f", filepath.Join(in, "nope.yaml")}, "nope.yaml"},
		{"pod another file declares", []string{"diff", "-f", other}, "pair.yaml"},
	} {
		out, code := run(t, append([]string{"--manifests", dir, "--socket", sock}, tt.args...)...)
		if code != 2 || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit %d, want 2 with %q in\n%s", tt.name, code, tt.want, out)
		}
	}
}
