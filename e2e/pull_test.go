package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
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
	"github.com/berth-project/berth/kube"
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
// host:port. wrap, when set, wraps the registry's handler once the image
// is pushed.
func serveWorkload(t *testing.T, repoTag string, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	var wrapped atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wrapped.Load() {
			wrap(h).ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
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
	// The repository in the config makes each served image its own (an
	// image ID is its config's digest): two copies of the workload made in
	// one second would otherwise be one image.
	cf.Config.Env = []string{"FROM_REGISTRY=1", "BERTH_E2E_REPO=" + repoTag}
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
	wrapped.Store(wrap != nil)
	return host
}

func TestPullFromRegistryThenRun(t *testing.T) {
	d := startDaemon(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // the machine's credentials stay out
	host := serveWorkload(t, "demo:1", nil)
	ref := host + "/demo:1"

	out := d.mustBerth("image", "pull", ref)
	if !strings.Contains(out, "done in") || !strings.Contains(out, "pulled "+ref+" ") || !strings.Contains(out, "(digest sha256:") {
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

// sleeperPod is a pod of one container running image.
func sleeperPod(name, image string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ` + image + `
    command: ["/bin/demo", "sleep", "3600"]
`
}

func hasEvent(evs []api.Event, reason, text string) bool {
	for _, e := range evs {
		if e.Reason == reason && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// A pod whose image is missing is created once the daemon has pulled it,
// and a pod whose image is present meanwhile does not wait for that pull.
func TestDaemonPullsMissingImageWithoutHoldingOthers(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // the daemon's too: the machine's credentials stay out
	d := startDaemon(t)
	release := make(chan struct{})
	var blocked atomic.Int32
	host := serveWorkload(t, "demo:2", func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/") {
				blocked.Add(1)
				<-release
			}
			h.ServeHTTP(w, r)
		})
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	ref := host + "/demo:2"
	p := filepath.Join(d.dir, "slow.yaml")
	if err := os.WriteFile(p, []byte(sleeperPod("slow", ref)), 0o644); err != nil {
		t.Fatal(err)
	}
	d.mustBerth("apply", "-f", p, "--wait=false")
	testutil.WaitFor(t, 30*time.Second, "the pull to reach the registry's blobs", func() bool { return blocked.Load() > 0 })
	if st := api.DisplayStatus(d.pod("slow")); st != kube.ReasonContainerCreating {
		t.Errorf("status while pulling %q, want %s", st, kube.ReasonContainerCreating)
	}

	d.apply("present.yaml", sleeperPod("present", testutil.DefaultRef)) // waits until it runs
	close(release)
	testutil.WaitFor(t, 30*time.Second, "the pod of the pulled image to run", func() bool {
		return d.pod("slow").Status.Phase == api.PodRunning
	})
	evs, err := api.NewClient(d.sock).Events(context.Background(), time.Time{}, api.PodObject("default", "slow"))
	if err != nil {
		t.Fatal(err)
	}
	if !hasEvent(evs, kube.EventPulling, ref) || !hasEvent(evs, kube.EventPulled, "Successfully pulled image \""+ref+"\"") {
		t.Errorf("events: %s", toJSON(evs))
	}
	if ls := d.mustBerth("image", "ls"); !strings.Contains(ls, ref) {
		t.Errorf("image ls lacks %s:\n%s", ref, ls)
	}

	// Under Always, a pod of the present, pulled image pulls it again.
	d.apply("again.yaml", strings.Replace(sleeperPod("again", ref), "    command:", "    imagePullPolicy: Always\n    command:", 1))
	evs, err = api.NewClient(d.sock).Events(context.Background(), time.Time{}, api.PodObject("default", "again"))
	if err != nil {
		t.Fatal(err)
	}
	if !hasEvent(evs, kube.EventPulled, ref) {
		t.Errorf("Always did not pull again: %s", toJSON(evs))
	}
}

// A pull that fails shows ErrImagePull, then ImagePullBackOff.
func TestDaemonImagePullBackOff(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	d := startDaemon(t)
	host := serveWorkload(t, "demo:1", nil)
	ref := host + "/nothere:1"
	if err := os.WriteFile(filepath.Join(d.manifests, "nothere.yaml"), []byte(sleeperPod("nothere", ref)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(d.sock)
	var evs []api.Event
	testutil.WaitFor(t, 30*time.Second, "ErrImagePull, then ImagePullBackOff", func() bool {
		evs, _ = c.Events(context.Background(), time.Time{}, api.PodObject("default", "nothere"))
		return hasEvent(evs, kube.EventFailed, "NAME_UNKNOWN") && hasEvent(evs, api.EventBackOff, "back-off pulling image")
	})
	if st := api.DisplayStatus(d.pod("nothere")); st != api.ReasonImagePullBackOff {
		t.Errorf("status %q, want %s", st, api.ReasonImagePullBackOff)
	}
	if !hasEvent(evs, kube.EventPulling, ref) {
		t.Errorf("no Pulling event: %s", toJSON(evs))
	}
}

// requireBasicAuth answers 401 to requests without user:pass, as a
// registry that wants a login does.
func requireBasicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="e2e"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// pullSecretYAML is a kubernetes.io/dockerconfigjson Secret for host.
func pullSecretYAML(name, host, user, pass string) string {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return `apiVersion: v1
kind: Secret
metadata:
  name: ` + name + `
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"` + host + `":{"auth":"` + auth + `"}}}'
`
}

// A pod pulls from a registry that wants a login with the credentials of
// its imagePullSecrets; a pod whose Secret has a wrong password shows
// ErrImagePull with the registry's answer, then ImagePullBackOff; the
// passwords appear in no event, describe or log line.
func TestDaemonPullsWithImagePullSecret(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	d := startDaemon(t)
	const user, pass, wrong = "e2e", "s3cret-pa55word", "wr0ng-pa55word"
	host := serveWorkload(t, "private:1", requireBasicAuth(user, pass))
	withSecret := func(pod, ref, secret string) string {
		return strings.Replace(sleeperPod(pod, ref), "  containers:", "  imagePullSecrets:\n  - name: "+secret+"\n  containers:", 1)
	}
	d.apply("good.yaml", pullSecretYAML("regcred", host, user, pass)+"---\n"+withSecret("good", host+"/private:1", "regcred"))
	if p := d.pod("good"); p.Status.Phase != api.PodRunning {
		t.Fatalf("pod with the right credentials: %s", toJSON(p.Status))
	}

	bad := host + "/private:2"
	if err := os.WriteFile(filepath.Join(d.manifests, "bad.yaml"),
		[]byte(pullSecretYAML("badcred", host, user, wrong)+"---\n"+withSecret("bad", bad, "badcred")), 0o644); err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(d.sock)
	var evs []api.Event
	testutil.WaitFor(t, 30*time.Second, "ErrImagePull, then ImagePullBackOff", func() bool {
		evs, _ = c.Events(context.Background(), time.Time{}, api.PodObject("default", "bad"))
		return hasEvent(evs, kube.EventFailed, "UNAUTHORIZED") && hasEvent(evs, api.EventBackOff, "back-off pulling image")
	})
	if !hasEvent(evs, kube.EventFailed, "check the credentials for "+host+": the pod's imagePullSecrets") {
		t.Errorf("the ErrImagePull event does not say what to check: %s", toJSON(evs))
	}
	if st := api.DisplayStatus(d.pod("bad")); st != api.ReasonImagePullBackOff {
		t.Errorf("status %q, want %s", st, api.ReasonImagePullBackOff)
	}
	all, err := c.Events(context.Background(), time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := toJSON(all) + d.mustBerth("describe", "pod", "bad") + d.mustBerth("describe", "pod", "good") + d.logBuf.String()
	for _, secret := range []string{pass, wrong, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
		base64.StdEncoding.EncodeToString([]byte(user + ":" + wrong))} {
		if strings.Contains(seen, secret) {
			t.Errorf("a credential shows in events, describe or the daemon log")
		}
	}
}

// On an air-gapped node, images named after a registry berth cannot
// reach come from the mirror the registries config names, for the
// daemon and for `berth image pull`; `berth image prune --all` then
// removes the images no pod uses and keeps the others.
func TestMirrorAirGapAndPrune(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	mirror := serveWorkload(t, "team/demo:1", nil)
	cfg := filepath.Join(t.TempDir(), "registries.yaml")
	if err := os.WriteFile(cfg, []byte("registries:\n  registry.berth-e2e.invalid:\n    mirrors: ["+mirror+"]\n    mirrorsOnly: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, func(d *daemon) { d.daemonArgs = append(d.daemonArgs, "--registries-config", cfg) })
	ref := "registry.berth-e2e.invalid/team/demo:1"
	d.apply("mirrored.yaml", sleeperPod("mirrored", ref))
	if p := d.pod("mirrored"); p.Status.Phase != api.PodRunning {
		t.Fatalf("pod of the mirrored image: %s", toJSON(p.Status))
	}
	if !strings.Contains(d.logBuf.String(), "registry="+mirror) {
		t.Errorf("the daemon's log does not say the image came from the mirror %s", mirror)
	}

	// The CLI reads the same file; an image no pod uses is pruned.
	otherMirror := serveWorkload(t, "team/other:1", nil)
	cfg2 := filepath.Join(t.TempDir(), "registries.yaml")
	if err := os.WriteFile(cfg2, []byte("registries:\n  other.berth-e2e.invalid:\n    mirrors: ["+otherMirror+"]\n    mirrorsOnly: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := "other.berth-e2e.invalid/team/other:1"
	if out, err := d.berth("image", "pull", other); err == nil {
		t.Fatalf("pulled %s without the registries config: %s", other, out)
	}
	d.mustBerth("--registries-config", cfg2, "image", "pull", other)
	out := d.mustBerth("image", "prune", "--all")
	if !strings.Contains(out, "removed "+other) || strings.Contains(out, ref) {
		t.Errorf("prune --all: %s", out)
	}
	ls := d.mustBerth("image", "ls")
	if strings.Contains(ls, other) || !strings.Contains(ls, ref) {
		t.Errorf("after prune:\n%s", ls)
	}
}
