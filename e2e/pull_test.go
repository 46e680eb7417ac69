package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// tarDir packs the directory dir (regular files, dirs, symlinks) as a
// layer tar.
func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatalf("pack workload rootfs: %v", err)
	}
	return buf.Bytes()
}

// serveWorkload runs a registry on 127.0.0.1 in the test process that
// serves the test workload as repo:tag, one gzip layer, and returns its
// host:port.
func serveWorkload(t *testing.T, repoTag string) string {
	t.Helper()
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	raw := tarDir(t, testutil.WorkloadRootfs(t))
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Env = []string{"FROM_REGISTRY=1"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push the workload image: %v", err)
	}
	return host
}

func TestPullFromRegistryThenRun(t *testing.T) {
	d := startDaemon(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // the machine's credentials stay out
	host := serveWorkload(t, "demo:1")
	ref := host + "/demo:1"

	out := d.mustBerth("image", "pull", ref)
	if !strings.Contains(out, "done in") || !strings.Contains(out, "pulled "+ref+","+host+"/demo@sha256:") {
		t.Fatalf("berth image pull output:\n%s", out)
	}
	if ls := d.mustBerth("image", "ls"); !strings.Contains(ls, ref) {
		t.Fatalf("image ls does not show %s:\n%s", ref, ls)
	}

	d.apply("pulled.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: pulled
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: `+ref+`
    command: ["/bin/demo", "sleep", "3600"]
`)
	testutil.WaitFor(t, 30*time.Second, "the pod of the pulled image to run", func() bool {
		p := d.pod("pulled")
		return p.Status.Phase == api.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready
	})
	// The container runs the pulled image: its config's env is there.
	if out := d.mustBerth("exec", "pulled", "--", "/bin/demo", "env"); !strings.Contains(out, "FROM_REGISTRY=1") {
		t.Errorf("container env lacks the pulled image's: %s", out)
	}
}
