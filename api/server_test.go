//go:build !berthlean

package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/manifests"
)

type fakeBackend struct {
	mu     sync.Mutex
	pods   []Pod
	passes int
}

func (f *fakeBackend) Pods(context.Context) ([]Pod, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Pod(nil), f.pods...), nil
}

func (f *fakeBackend) Events(_ context.Context, since time.Time) ([]Event, error) {
	return []Event{
		{Time: since.Add(time.Second), Reason: "Started", Object: PodObject("default", "web")},
		{Time: since.Add(2 * time.Second), Reason: "BackOff", Object: PodObject("default", "db")},
	}, nil
}

func (f *fakeBackend) Reconcile(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passes++
	return nil
}

func (f *fakeBackend) ExecTarget(_ context.Context, ns, name, ctr string) (ExecTarget, error) {
	switch {
	case name == "gone":
		return ExecTarget{}, fmt.Errorf("pod %s/%s not found: %w", ns, name, ErrNotFound)
	case ctr == "stopped":
		return ExecTarget{}, fmt.Errorf("container %s is terminated: %w", ctr, ErrNotRunning)
	}
	return ExecTarget{Pod: ns + "/" + name, Container: ctr, PID: 42}, nil
}

// Attach answers as an infra would: errors by name, else a session that
// echoes what it gets, upper-cased.
func (f *fakeBackend) Attach(_ context.Context, ns, name, ctr string, stdin, _ bool) (net.Conn, error) {
	switch {
	case name == "gone":
		return nil, fmt.Errorf("pod %s/%s not found: %w", ns, name, ErrNotFound)
	case ctr == "stopped":
		return nil, fmt.Errorf("container %s is terminated: %w", ctr, ErrNotRunning)
	case ctr == "quiet" && stdin:
		return nil, fmt.Errorf("%w: container quiet takes no input", ErrAttachRefused)
	}
	here, there := net.Pipe()
	go func() {
		defer there.Close()
		buf := make([]byte, 64)
		for {
			n, err := there.Read(buf)
			if err != nil {
				return
			}
			if _, err := there.Write(bytes.ToUpper(buf[:n])); err != nil {
				return
			}
		}
	}()
	return here, nil
}

func (f *fakeBackend) set(p []Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods = p
}

func serve(t *testing.T, b Backend) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Serve(ctx, l, Handler(b, slog.New(slog.DiscardHandler))); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return NewClient(sock)
}

func TestClientServer(t *testing.T) {
	b := &fakeBackend{}
	c := serve(t, b)
	ctx := context.Background()

	if _, err := c.Pod(ctx, "default", "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing pod: err %v, want ErrNotFound", err)
	}
	web := Pod{Metadata: metaOf("default", "web"), Status: PodStatus{Phase: PodPending}}
	b.set([]Pod{web})
	pods, err := c.Pods(ctx)
	if err != nil || len(pods) != 1 || pods[0].Metadata.Name != "web" {
		t.Fatalf("Pods = %v, %v", pods, err)
	}
	if err := c.Reconcile(ctx); err != nil || b.passes != 1 {
		t.Fatalf("Reconcile: %v, passes %d", err, b.passes)
	}

	// A waiting request returns once the pod settles.
	go func() {
		time.Sleep(30 * time.Millisecond)
		web.Status = PodStatus{Phase: PodRunning}
		b.set([]Pod{web})
	}()
	p, timedOut, err := c.WaitSettled(ctx, "default", "web", 5*time.Second)
	if err != nil || timedOut || p.Status.Phase != PodRunning {
		t.Fatalf("WaitSettled = %s, %v, %v", p.Status.Phase, timedOut, err)
	}
	// ... and reports a time-out with the last state.
	web.Status = PodStatus{Phase: PodPending}
	b.set([]Pod{web})
	if _, timedOut, err := c.WaitSettled(ctx, "default", "web", 50*time.Millisecond); err != nil || !timedOut {
		t.Fatalf("WaitSettled on a pending pod: timedOut %v, err %v", timedOut, err)
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		b.set(nil)
	}()
	if gone, err := c.WaitGone(ctx, "default", "web", 5*time.Second); err != nil || !gone {
		t.Fatalf("WaitGone = %v, %v", gone, err)
	}
	ev, err := c.Events(ctx, time.Unix(100, 0), "")
	if err != nil || len(ev) != 2 || ev[0].Reason != "Started" {
		t.Fatalf("Events = %v, %v", ev, err)
	}
	ev, err = c.Events(ctx, time.Time{}, PodObject("default", "db"))
	if err != nil || len(ev) != 1 || ev[0].Reason != "BackOff" {
		t.Fatalf("Events of pod/default/db = %v, %v", ev, err)
	}
}

func TestClientWithoutDaemonSaysWhatToDo(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "none.sock"))
	_, err := c.Pods(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is `berth daemon` running") {
		t.Fatalf("err = %v", err)
	}
}

func metaOf(ns, name string) ObjectMeta {
	return ObjectMeta{ObjectMeta: manifests.ObjectMeta{Namespace: ns, Name: name}}
}

// TestReconcileFor: the pass's answer holds the named pods that exist; a
// malformed name is refused before any pass is run; a daemon that answers
// a pass with no content (one older than ReconcileFor) gives no pods.
func TestReconcileFor(t *testing.T) {
	ctx := context.Background()
	b := &fakeBackend{}
	c := serve(t, b)
	web := Pod{Metadata: metaOf("default", "web"), Status: PodStatus{Phase: PodRunning}}
	b.set([]Pod{web, {Metadata: metaOf("default", "db")}})
	pods, err := c.ReconcileFor(ctx, []PodKey{{"default", "web"}, {"default", "gone"}})
	if err != nil || len(pods) != 1 || pods[0] != Brief(web) || !pods[0].Arrived() || b.passes != 1 {
		t.Fatalf("ReconcileFor = %+v, %v after %d passes, want web's brief, arrived, after 1", pods, err, b.passes)
	}
	resp, err := c.do(ctx, http.MethodPost, "/v1/reconcile?pod=web")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || b.passes != 1 {
		t.Errorf("a pod named without its namespace: %s after %d passes, want 400 and no pass", resp.Status, b.passes)
	}
	if pods, err := c.ReconcileFor(ctx, nil); err != nil || pods != nil || b.passes != 2 {
		t.Errorf("ReconcileFor naming no pod = %+v, %v after %d passes, want none after 2", pods, err, b.passes)
	}

	sock := filepath.Join(t.TempDir(), "old.sock")
	l, err := Listen(sock, -1)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		Serve(sctx, l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	if pods, err := NewClient(sock).ReconcileFor(ctx, []PodKey{{"default", "web"}}); err != nil || pods != nil {
		t.Errorf("ReconcileFor against an older daemon = %+v, %v, want no pods and no error", pods, err)
	}
}

func (f *fakeBackend) Pod(ctx context.Context, ns, name string) (Pod, bool, error) {
	pods, _ := f.Pods(ctx)
	for _, p := range pods {
		if p.Metadata.Namespace == ns && p.Metadata.Name == name {
			return p, true, nil
		}
	}
	return Pod{}, false, nil
}
