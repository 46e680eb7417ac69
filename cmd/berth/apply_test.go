//go:build !berthlean

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// applyDaemon answers apply as a daemon whose pod is running at once: its
// reconcile pass is done before the manifest is durable.
type applyDaemon struct {
	api.Backend // the rest is never called
	dir         string
	asked       chan struct{} // closed by the reconcile request
	answered    chan struct{} // closed once the pod was asked for
	sawFile     atomic.Bool   // the manifest was in place when asked
}

func (d *applyDaemon) Reconcile(context.Context) error {
	_, err := os.Stat(filepath.Join(d.dir, "pod.yaml"))
	d.sawFile.Store(err == nil)
	close(d.asked)
	return nil
}

func (d *applyDaemon) Pod(_ context.Context, ns, name string) (api.Pod, bool, error) {
	defer close(d.answered)
	p := api.Pod{Metadata: api.ObjectMeta{}, Status: api.PodStatus{Phase: api.PodRunning}}
	p.Metadata.Namespace, p.Metadata.Name = ns, name
	return p, true, nil
}

// startApplyDaemon serves d on a socket of its own and returns its path.
func startApplyDaemon(t *testing.T, d api.Backend) string {
	t.Helper()
	return startHandler(t, api.Handler(d, slog.New(slog.DiscardHandler)))
}

// startHandler serves h on a socket of its own and returns its path.
func startHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "berth-apply-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		api.Serve(ctx, l, h)
	}()
	t.Cleanup(func() { cancel(); <-served })
	return sock
}

// countingDaemon runs its pod at once and counts the looks at it.
type countingDaemon struct {
	api.Backend // the rest is never called
	looks       atomic.Int32
}

func (d *countingDaemon) Reconcile(context.Context) error { return nil }

func (d *countingDaemon) Pod(_ context.Context, ns, name string) (api.Pod, bool, error) {
	d.looks.Add(1)
	p := api.Pod{Status: api.PodStatus{Phase: api.PodRunning}}
	p.Metadata.Namespace, p.Metadata.Name = ns, name
	return p, true, nil
}

// TestApplyTakesThePodFromThePass: a pod the pass left settled is taken
// from the pass's answer, with no request more; a daemon that answers the
// pass with no pods (one older than the answer) is asked for the pod.
func TestApplyTakesThePodFromThePass(t *testing.T) {
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprint("older daemon ", old), func(t *testing.T) {
			d := &countingDaemon{}
			var h http.Handler = api.Handler(d, slog.New(slog.DiscardHandler))
			var requests atomic.Int32
			sock := startHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if old && r.URL.Path == "/v1/reconcile" {
					r.URL.RawQuery = ""
				}
				h.ServeHTTP(w, r)
			}))
			f := write(t, t.TempDir(), "pod.yaml", validPod)
			out, code := run(t, "--manifests", t.TempDir(), "--socket", sock, "apply", "-f", f)
			if code != 0 {
				t.Fatalf("apply exited %d:\n%s", code, out)
			}
			wantRequests := int32(1)
			if old {
				wantRequests = 2
			}
			if got := requests.Load(); got != wantRequests || d.looks.Load() != 1 {
				t.Errorf("apply made %d requests and %d looks at the pod, want %d and 1", got, d.looks.Load(), wantRequests)
			}
		})
	}
}

// withSync replaces the durable half of apply's write for one test.
func withSync(t *testing.T, sync func(*atomicfile.Placed) error) {
	old := syncPlaced
	syncPlaced = sync
	t.Cleanup(func() { syncPlaced = old })
}

// waitClosed waits for ch, or fails the test's sync with what it waited
// for: a guard against a deadlock, not a measure of time.
func waitClosed(ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("still waiting for " + what)
	}
}

// TestApplyAsksBeforeTheSyncAndReturnsAfterIt: the daemon is asked for its
// pass while the manifest is made durable, and apply reports success only
// once the manifest is durable, even when the pod ran first.
func TestApplyAsksBeforeTheSyncAndReturnsAfterIt(t *testing.T) {
	dir := t.TempDir()
	d := &applyDaemon{dir: dir, asked: make(chan struct{}), answered: make(chan struct{})}
	sock := startApplyDaemon(t, d)
	var synced atomic.Bool
	var syncErr error
	withSync(t, func(p *atomicfile.Placed) error {
		if syncErr = waitClosed(d.asked, "the reconcile request"); syncErr != nil {
			return syncErr
		}
		if syncErr = waitClosed(d.answered, "the pod's state"); syncErr != nil {
			return syncErr
		}
		err := p.Sync()
		synced.Store(err == nil)
		return err
	})
	f := write(t, t.TempDir(), "pod.yaml", validPod)
	out, code := run(t, "--manifests", dir, "--socket", sock, "apply", "-f", f)
	if code != 0 || syncErr != nil {
		t.Fatalf("apply exited %d (sync: %v):\n%s", code, syncErr, out)
	}
	if !synced.Load() {
		t.Fatal("apply returned before the manifest was durable")
	}
	if !d.sawFile.Load() {
		t.Error("the daemon was asked for a pass before the manifest was in its directory")
	}
}

// TestApplyFailsWhenTheManifestIsNotDurable: a failed sync fails apply,
// though the daemon already runs the pod.
func TestApplyFailsWhenTheManifestIsNotDurable(t *testing.T) {
	dir := t.TempDir()
	d := &applyDaemon{dir: dir, asked: make(chan struct{}), answered: make(chan struct{})}
	sock := startApplyDaemon(t, d)
	withSync(t, func(*atomicfile.Placed) error { return errors.New("disk on fire") })
	f := write(t, t.TempDir(), "pod.yaml", validPod)
	out, code := run(t, "--manifests", dir, "--socket", sock, "apply", "-f", f)
	if code == 0 || !strings.Contains(out, "may not survive a power loss: disk on fire") {
		t.Fatalf("apply exited %d, want a failure naming the sync:\n%s", code, out)
	}
}

// readyDaemon answers apply as a daemon whose pod runs at once, with a
// readiness probe that succeeds from the readyAt-th look at the pod on
// (never when 0), and whose events hold the probe's failures.
type readyDaemon struct {
	api.Backend // the rest is never called
	readyAt     int32
	looks       atomic.Int32
}

func (d *readyDaemon) Reconcile(context.Context) error { return nil }

func (d *readyDaemon) Pod(_ context.Context, ns, name string) (api.Pod, bool, error) {
	ready := d.readyAt > 0 && d.looks.Add(1) >= d.readyAt
	p := api.Pod{Status: api.PodStatus{Phase: api.PodRunning}}
	p.Metadata.Namespace, p.Metadata.Name = ns, name
	p.Spec.Containers = []manifests.Container{{Name: "main", ReadinessProbe: &manifests.Probe{}}}
	p.Status.ContainerStatuses = []api.ContainerStatus{{Name: "main", Ready: ready, State: kube.ContainerState{Running: &kube.StateRunning{}}}}
	cond := api.PodCondition{Type: api.PodReady, Status: api.ConditionFalse}
	if ready {
		cond.Status = api.ConditionTrue
	}
	p.Status.Conditions = []api.PodCondition{cond}
	return p, true, nil
}

func (d *readyDaemon) Events(context.Context, time.Time) ([]api.Event, error) {
	obj := api.PodObject("default", "web")
	return []api.Event{
		{Reason: api.EventUnhealthy, Object: obj, Container: "main", Message: "Readiness probe failed: HTTP probe failed with statuscode: 500"},
		{Reason: api.EventUnhealthy, Object: obj, Container: "main", Message: "Readiness probe failed: HTTP probe failed with statuscode: 503"},
		{Reason: api.EventUnhealthy, Object: obj, Container: "main", Message: "Liveness probe failed: connection refused"},
		{Reason: api.EventUnhealthy, Object: api.PodObject("default", "other"), Container: "main", Message: "Readiness probe failed: not this pod"},
	}, nil
}

// TestApplyWaitsForReady: a running pod with a readiness probe is waited
// for until it is Ready, as kubectl wait --for=condition=Ready does.
func TestApplyWaitsForReady(t *testing.T) {
	d := &readyDaemon{readyAt: 4}
	sock := startApplyDaemon(t, d)
	f := write(t, t.TempDir(), "pod.yaml", validPod)
	out, code := run(t, "--manifests", t.TempDir(), "--socket", sock, "apply", "-f", f)
	if code != 0 {
		t.Fatalf("apply exited %d:\n%s", code, out)
	}
	if n := d.looks.Load(); n < d.readyAt {
		t.Errorf("apply returned after %d looks at the pod, before it was Ready (look %d)", n, d.readyAt)
	}
}

// TestApplyNamesTheFailingReadinessProbe: a pod that does not get Ready
// within --timeout fails apply, naming the container and its readiness
// probe's last failure.
func TestApplyNamesTheFailingReadinessProbe(t *testing.T) {
	sock := startApplyDaemon(t, &readyDaemon{})
	f := write(t, t.TempDir(), "pod.yaml", validPod)
	out, code := run(t, "--manifests", t.TempDir(), "--socket", sock, "apply", "-f", f, "--timeout", "300ms")
	want := "pod/web: not Ready after 300ms: container main: Readiness probe failed: HTTP probe failed with statuscode: 503"
	if code == 0 || !strings.Contains(out, want) {
		t.Fatalf("apply exited %d, want a failure saying %q:\n%s", code, want, out)
	}
}
