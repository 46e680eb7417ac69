package daemon

import (
	"context"
	"sync"

	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/pod"
)

// execOutputMax is how much of an exec probe's output is kept, as the
// kubelet keeps.
const execOutputMax = 10 << 10

// execProber runs exec probes and exec hooks as `berth exec` runs its
// commands: through exec-init, as a child of the daemon, from the sealed
// binary the infras run from (the lean init binary, which has exec-init,
// or berth itself).
//
// A hook runs once (hook: one exec-init per command). A probe runs every
// period, so probes run through a container run's exec helpers (probe):
// exec-init entered the container once and forks each command, where one
// exec-init per probe cost a Go process's start every period. A helper
// serves one probe at a time; a container whose probes overlap gets one
// helper for each, kept idle between probes. Helpers of another run of
// the container (another process) are discarded when found, and so is a
// helper after a timeout or any error; one that exits (its container's
// run ended, the pod was removed) is reaped and forgotten.
type execProber struct {
	exe string

	mu sync.Mutex
	// idle are the helpers not running a probe, by "namespace/pod/container".
	idle map[string][]*execin.Helper
}

func newExecProber(exe string) *execProber {
	return &execProber{exe: exe, idle: make(map[string][]*execin.Helper)}
}

func (e *execProber) hook(ctx context.Context, t pod.ExecTarget, cmd []string) (int, []byte, error) {
	return execin.Output(ctx, e.exe, execin.NewConfig(execin.Target(t), cmd, false, ""), execOutputMax)
}

func (e *execProber) probe(ctx context.Context, t pod.ExecTarget, cmd []string) (int, []byte, error) {
	key := t.Pod + "/" + t.Container
	h, err := e.take(key, t)
	if err != nil {
		return 0, nil, err
	}
	code, out, err := h.Run(ctx, cmd, execOutputMax)
	if err != nil || !h.Usable() {
		h.Close()
		return code, out, err
	}
	e.mu.Lock()
	e.idle[key] = append(e.idle[key], h)
	e.mu.Unlock()
	return code, out, nil
}

// take returns an idle helper of t's run, or starts one; helpers of
// another run are closed.
func (e *execProber) take(key string, t pod.ExecTarget) (*execin.Helper, error) {
	e.mu.Lock()
	var found *execin.Helper
	var stale []*execin.Helper
	for len(e.idle[key]) > 0 && found == nil {
		hs := e.idle[key]
		h := hs[len(hs)-1]
		e.idle[key] = hs[:len(hs)-1]
		if pid, start := h.Target(); pid == t.PID && start == t.StartTime && h.Usable() {
			found = h
		} else {
			stale = append(stale, h)
		}
	}
	if len(e.idle[key]) == 0 {
		delete(e.idle, key)
	}
	e.mu.Unlock()
	// Killing scans /proc: not under the lock.
	for _, h := range stale {
		h.Close()
	}
	if found != nil {
		return found, nil
	}
	return execin.StartHelper(e.exe, execin.NewConfig(execin.Target(t), nil, false, ""), func(h *execin.Helper) { e.forget(key, h) })
}

// forget drops an exited helper from the idle ones.
func (e *execProber) forget(key string, h *execin.Helper) {
	e.mu.Lock()
	defer e.mu.Unlock()
	hs := e.idle[key]
	for i, x := range hs {
		if x == h {
			e.idle[key] = append(hs[:i], hs[i+1:]...)
			break
		}
	}
	if len(e.idle[key]) == 0 {
		delete(e.idle, key)
	}
}
