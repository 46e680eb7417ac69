package infra

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/crilog"
)

// TestStartRunsInParallel starts two runs whose init stages each wait for
// the other to have begun: started one after the other, the first would
// never see the second and fail.
func TestStartRunsInParallel(t *testing.T) {
	dir := t.TempDir()
	cfg := &PodConfig{Key: "test/par", LogDir: filepath.Join(dir, "logs"), LogMaxSize: 1 << 20, LogMaxFiles: 2}
	began := make(chan string, 2)
	start := func(c container.Config, opt container.StartOptions) (int, error) {
		opt.Stdout.Close()
		opt.Stderr.Close()
		began <- c.ID
		select {
		case <-time.After(10 * time.Second):
			return 0, errors.New(c.ID + ": the other container's start never began")
		case other := <-began:
			began <- other // leave it for the other waiter, if it still waits
			if c.ID == "test/par/a" {
				return 1001, nil
			}
			return 1002, nil
		}
	}
	p := &procsLinux{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), startFn: start, drains: map[int]chan struct{}{}, ios: map[string]*runIO{},
		post: func(f func()) { f() }}
	runs := []runSpec{
		{cfg: &ContainerConfig{Name: "a", Init: container.Config{ID: "test/par/a"}}},
		{cfg: &ContainerConfig{Name: "b", Init: container.Config{ID: "test/par/b"}}},
	}
	results := make(chan []runStart, 1)
	p.start(runs, func(rs []runStart) { results <- rs })
	got := <-results
	for i, want := range []int{1001, 1002} {
		if got[i].err != nil || got[i].pid != want {
			t.Errorf("run %d: pid %d, err %v; want pid %d", i, got[i].pid, got[i].err, want)
		}
		if got[i].logPath != crilog.Path(cfg.LogDir, runs[i].cfg.Name, 0) {
			t.Errorf("run %d: log path %q", i, got[i].logPath)
		}
	}
	for _, pid := range []int{1001, 1002} {
		select {
		case <-p.drained(pid):
		case <-time.After(10 * time.Second):
			t.Fatalf("logs of pid %d never drained", pid)
		}
	}
}
