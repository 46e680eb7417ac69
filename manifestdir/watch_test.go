package manifestdir

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDebouncer(t *testing.T) {
	const delay, maxWait = 100 * time.Millisecond, time.Second
	t0 := time.Unix(1000, 0)
	type step struct {
		at        time.Duration // since t0
		fired     bool          // notify ran just before this event
		wantDelay time.Duration
		wantReset bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first event arms the timer", []step{{0, false, delay, true}}},
		{"burst keeps pushing", []step{
			{0, false, delay, true},
			{50 * time.Millisecond, false, delay, true},
			{120 * time.Millisecond, false, delay, true},
		}},
		{"burst is capped by maxWait", []step{
			{0, false, delay, true},
			{950 * time.Millisecond, false, 50 * time.Millisecond, true},
			{time.Second, false, 0, false},
		}},
		{"after firing a new burst starts", []step{
			{0, false, delay, true},
			{2 * time.Second, true, delay, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := debouncer{delay: delay, maxWait: maxWait}
			for i, s := range tt.steps {
				if s.fired {
					d.fired()
				}
				got, reset := d.event(t0.Add(s.at))
				if got != s.wantDelay || reset != s.wantReset {
					t.Errorf("step %d: event = %v, %v; want %v, %v", i, got, reset, s.wantDelay, s.wantReset)
				}
			}
		})
	}
}

func TestRelevant(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/m/pod.yaml", true},
		{"/m/..data", true},
		{"/m/..2026_01_01", true},
		{"/m/.pod.yaml.tmp", false},
		{"/m/.pod.yaml.swp", false},
		{"/m/pod.yaml~", false},
		{"/m/4913", false},
		{"/m", true},
	}
	for _, tt := range tests {
		if got := relevant(tt.path); got != tt.want {
			t.Errorf("relevant(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// notifyCounter counts notify calls and checks they never overlap.
type notifyCounter struct {
	calls    atomic.Int64
	inFlight atomic.Int64
	overlap  atomic.Bool
}

func (c *notifyCounter) notify() {
	if c.inFlight.Add(1) > 1 {
		c.overlap.Store(true)
	}
	c.calls.Add(1)
	c.inFlight.Add(-1)
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startWatch runs Watch until the test ends.
func startWatch(t *testing.T, dir string, opt WatchOptions) *notifyCounter {
	t.Helper()
	c := &notifyCounter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, dir, opt, c.notify)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if c.overlap.Load() {
			t.Error("notify ran concurrently")
		}
	})
	return c
}

func TestWatchNotifiesOnChange(t *testing.T) {
	dir := t.TempDir()
	c := startWatch(t, dir, WatchOptions{Debounce: 5 * time.Millisecond, Resync: time.Hour})
	waitFor(t, "the initial notify", func() bool { return c.calls.Load() >= 1 })
	before := c.calls.Load()
	writeManifest(t, dir, "pod.yaml", testPod("web"))
	waitFor(t, "a notify after a write", func() bool { return c.calls.Load() > before })
}

func TestWatchResyncs(t *testing.T) {
	c := startWatch(t, t.TempDir(), WatchOptions{Resync: 5 * time.Millisecond})
	waitFor(t, "periodic notifies", func() bool { return c.calls.Load() >= 3 })
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

func TestWatchSurvivesDirectoryRecreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "manifests")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := startWatch(t, dir, WatchOptions{Debounce: 5 * time.Millisecond, Resync: 20 * time.Millisecond, Log: log})
	waitFor(t, "the first watch", func() bool { return logs.count("msg=\"watching manifest directory\"") == 1 })

	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watch re-added", func() bool { return logs.count("msg=\"watching manifest directory\"") == 2 })
	before := c.calls.Load()
	writeManifest(t, dir, "pod.yaml", testPod("web"))
	waitFor(t, "a notify after the re-create", func() bool { return c.calls.Load() > before })
}
