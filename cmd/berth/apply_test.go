package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/atomicfile"
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
func startApplyDaemon(t *testing.T, d *applyDaemon) string {
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
		api.Serve(ctx, l, api.Handler(d, slog.New(slog.DiscardHandler)))
	}()
	t.Cleanup(func() { cancel(); <-served })
	return sock
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
