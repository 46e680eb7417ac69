package e2e

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/kube"
)

// serveDataImage runs a registry on 127.0.0.1 serving repoTag, a data
// image of two layers: the bottom one has data/msg, data/bottom and a
// symlink to /etc/hostname, the top one replaces data/msg. It returns the
// image's reference.
func serveDataImage(t *testing.T, repoTag string) string {
	t.Helper()
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	var layers []v1.Layer
	for _, files := range []map[string]string{
		{"data/msg": "from the bottom layer", "data/bottom": "kept"},
		{"data/msg": "hello from the image volume"},
	} {
		dir := t.TempDir()
		for p, content := range files {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if len(layers) == 0 {
			if err := os.Symlink("/etc/hostname", filepath.Join(dir, "data", "escape")); err != nil {
				t.Fatal(err)
			}
		}
		raw := tarDir(t, dir)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(raw))), nil })
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/" + repoTag
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push the data image: %v", err)
	}
	return ref
}

// TestImageVolume: an image volume's files are readable and read-only. A
// pod mounts a second image, pulled from the test registry by the
// volume's pullPolicy, whole and through a subPath: its files have the
// image's content (the top layer's where both have one), a write fails
// with EROFS, the image's symlink resolves inside the container. The
// volume survives a daemon crash, and the pod's removal leaves no mount.
// A pod whose volume image is missing under pullPolicy Never waits with
// the kubelet's reason, ErrImageNeverPull.
func TestImageVolume(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // the machine's credentials stay out
	d := startDaemon(t)
	ref := serveDataImage(t, "data:1")

	d.apply("tools.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: tools
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: data
    image:
      reference: `+ref+`
      pullPolicy: IfNotPresent
  containers:
  - name: main
    image: `+d.image+`
    command: ["/bin/demo", "sleep", "3600"]
    volumeMounts:
    - name: data
      mountPath: /data
    - name: data
      mountPath: /only
      subPath: data
`)
	testutil.WaitFor(t, 60*time.Second, "the pod with an image volume to run", func() bool {
		p := d.pod("tools")
		return p.Status.Phase == api.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	})
	check := func() {
		t.Helper()
		for path, want := range map[string]string{
			"/data/data/msg":    "hello from the image volume\n",
			"/data/data/bottom": "kept\n",
			"/only/msg":         "hello from the image volume\n",
			"/data/data/escape": "tools\n",
		} {
			if out := d.mustBerth("exec", "tools", "--", "/bin/demo", "read", path); out != want {
				t.Errorf("%s reads %q, want %q", path, out, want)
			}
		}
		for _, path := range []string{"/data/data/msg", "/data/new", "/only/new"} {
			out, err := d.berth("exec", "tools", "--", "/bin/demo", "write", path, "x")
			if err == nil || !strings.Contains(out, syscall.EROFS.Error()) {
				t.Errorf("write %s: %v %q, want %q", path, err, out, syscall.EROFS.Error())
			}
		}
	}
	check()
	evs, err := api.NewClient(d.sock).Events(context.Background(), time.Time{}, api.PodObject("default", "tools"))
	if err != nil || !hasEvent(evs, kube.EventPulled, ref) {
		t.Errorf("no Pulled event for the volume's image (%v): %s", err, toJSON(evs))
	}

	// A daemon crash: the new daemon adopts the pod, whose volume stays.
	d.stop(syscall.SIGKILL)
	d.start()
	testutil.WaitFor(t, 30*time.Second, "the adopted pod", func() bool {
		p := d.pod("tools")
		return p.Status.Phase == api.PodRunning
	})
	check()

	// The image volume's image is in use: a prune keeps it.
	d.mustBerth("image", "prune")
	if ls := d.mustBerth("image", "ls"); !strings.Contains(ls, ref) {
		t.Errorf("image prune removed the volume's image of a running pod:\n%s", ls)
	}

	d.mustBerth("delete", "-f", filepath.Join(d.dir, "tools.yaml"), "--timeout", "30s")
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, d.state+"/") {
			t.Errorf("mount left after the pod's removal: %s", line)
		}
	}

	// Not applied: apply waits for the pod to run.
	if err := os.WriteFile(filepath.Join(d.manifests, "never.yaml"), []byte(`apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  volumes:
  - name: data
    image:
      reference: berth.test/not-here:1
      pullPolicy: Never
  containers:
  - name: main
    image: `+d.image+`
    command: ["/bin/demo", "sleep", "3600"]
    volumeMounts:
    - name: data
      mountPath: /data
`), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 30*time.Second, "the pod without its volume's image to wait with ErrImageNeverPull", func() bool {
		p, err := api.NewClient(d.sock).Pod(context.Background(), "default", "never")
		return err == nil && api.DisplayStatus(p) == "ErrImageNeverPull"
	})
}
