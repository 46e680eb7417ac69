package pod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/podid"
)

// Recover rebuilds what the manager knows from the kernel and the state
// directory after a daemon (re)start: pods whose infra is alive (same PID
// and start time) and answers are adopted untouched; everything else a
// crash may have left (half-made pods, dead infras, cgroups, veths, leases,
// sockets without a pod) is removed. It never trusts a state file alone.
// The infras are asked (infraFanOut at once), and the pods removed, in
// parallel, each infra call with its deadline (infra.CallTimeout): a stuck
// infra delays the daemon's start by its deadline (shared with up to
// infraFanOut-1 others), never holds it.
func (m *Manager) Recover(ctx context.Context) error {
	ids, err := podDirs(m.cfg.StateDir)
	if err != nil {
		return fmt.Errorf("list pod state: %w", err)
	}
	found := make([]recovered, len(ids))
	var wg sync.WaitGroup
	slots := make(chan struct{}, infraFanOut)
	for i, name := range ids {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			found[i] = m.inspect(ctx, name)
		})
	}
	wg.Wait()
	live := map[string]bool{}
	liveRun := map[string]bool{}
	// keptLogs are the log directories of the pods found: a directory of
	// no pod is what a crash left between a teardown that kept the logs
	// for the pod made again and that pod's create.
	keptLogs := map[string]bool{}
	var mu sync.Mutex
	var errs []error
	// Teardowns run in parallel too: each may wait on its infra's deadlines.
	// keepLogs: the pod's logs go to the pod its manifest makes again.
	remove := func(id string, rec *record, l Layout, keepLogs bool) {
		wg.Go(func() {
			err := undoAll(ctx, m.createSteps(&podRun{id: id, rec: rec, l: l, keepLogs: keepLogs}))
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	for _, f := range found {
		if f.readErr != nil {
			// The directory's name is the pod's KernelID, which is all that
			// cgroups and the network need to find what the pod held.
			m.cfg.Log.Warn("pod state unreadable; removing the pod", "dir", f.dir, "err", f.readErr)
			remove(f.name, nil, Layout{State: f.dir}, false)
			continue
		}
		id := podid.ID(f.rec.Pod.Namespace, f.rec.Pod.Name)
		keptLogs[f.layout.Logs] = true
		if f.adopt {
			live[id] = true
			liveRun[podid.RunKey(id)] = true
			e := &entry{rec: f.rec, layout: f.layout, probesPending: hasProbes(f.rec.Pod), hooksPending: hasHooks(f.rec.Pod)}
			m.mu.Lock()
			m.pods[id] = e
			m.mu.Unlock()
			m.startHooks(id, e)
			m.startProbes(id, e)
			m.watchInfra(e)
			m.cfg.Log.Info("re-attached to pod", "pod", key(f.rec.Pod), "pid", f.rec.InfraPID)
			continue
		}
		ran := f.rec.InfraPID != 0
		if ran {
			// Its manifest makes it again, as a restart of it.
			cr := carryOver(f.rec, f.layout)
			m.mu.Lock()
			m.carried[id] = cr
			m.mu.Unlock()
			m.cfg.Log.Info("removing pod whose infra died; its next create restarts its containers", "pod", key(f.rec.Pod))
		} else {
			m.cfg.Log.Info("removing pod left half-made", "pod", key(f.rec.Pod))
		}
		remove(id, f.rec, f.layout, ran)
	}
	wg.Wait()
	errs = append(errs, m.collectGarbage(live, liveRun), m.collectLogs(keptLogs))
	return errors.Join(errs...)
}

// recovered is what Recover found of one pod directory.
type recovered struct {
	name, dir string
	rec       *record
	readErr   error
	layout    Layout
	adopt     bool
}

// inspect reads the record in the pod directory name and decides whether
// its pod is adopted.
func (m *Manager) inspect(ctx context.Context, name string) recovered {
	r := recovered{name: name, dir: filepath.Join(m.cfg.StateDir, "pods", name)}
	if r.rec, r.readErr = readRecord(r.dir); r.readErr != nil {
		return r
	}
	r.layout = m.layout(r.rec.Pod, r.rec.UID)
	r.adopt = m.adopt(ctx, r.rec, r.layout)
	return r
}

// adopt reports whether the pod's infra is alive and fully started. An
// infra that is alive but does not answer in time is kept as well: its
// pod may run, and tearing it down for a slow answer would be worse; its
// status shows it unreachable until it answers, and its removal is bounded
// by the deadlines of Stop and the kill that follows.
func (m *Manager) adopt(ctx context.Context, rec *record, l Layout) bool {
	if !m.cfg.Processes.Alive(rec.InfraPID, rec.InfraStart) {
		return false
	}
	st, err := m.cfg.Infra.Status(ctx, l.Socket())
	if errors.Is(err, context.DeadlineExceeded) {
		m.cfg.Log.Warn("infra does not answer; keeping its pod", "pod", key(rec.Pod), "pid", rec.InfraPID, "err", err)
		return true
	}
	return err == nil && st.Started && !st.Stopping
}

// collectGarbage removes cgroups, network state and sockets of pods that
// have no live record.
func (m *Manager) collectGarbage(live, liveRun map[string]bool) error {
	var errs []error
	liveKernel := map[string]bool{}
	for id := range live {
		liveKernel[podid.KernelID(id)] = true
	}
	cgs, err := m.cfg.Cgroups.Pods()
	if err != nil {
		errs = append(errs, fmt.Errorf("list pod cgroups: %w", err))
	}
	for _, id := range cgs {
		if liveKernel[id] {
			continue
		}
		if err := m.cfg.Cgroups.Kill(id); err != nil {
			errs = append(errs, err)
		}
		if err := m.cfg.Cgroups.Remove(id); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.cfg.Net.GC(liveKernel); err != nil {
		errs = append(errs, fmt.Errorf("network garbage collection: %w", err))
	}
	runPods := filepath.Join(m.cfg.RunDir, "pods")
	ents, _ := os.ReadDir(runPods)
	for _, e := range ents {
		if !liveRun[e.Name()] {
			errs = append(errs, os.RemoveAll(filepath.Join(runPods, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// collectLogs removes the pod log directories (named as Layout names
// them, by pod UID) below the log directory that are not in keep.
func (m *Manager) collectLogs(keep map[string]bool) error {
	ents, err := os.ReadDir(m.cfg.LogDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list pod logs: %w", err)
	}
	var errs []error
	for _, e := range ents {
		dir := filepath.Join(m.cfg.LogDir, e.Name())
		if e.IsDir() && isPodLogDir(e.Name()) && !keep[dir] {
			m.cfg.Log.Info("removing the logs of a pod that no longer exists", "dir", dir)
			errs = append(errs, os.RemoveAll(dir))
		}
	}
	return errors.Join(errs...)
}

// isPodLogDir says whether name is a pod's log directory as Layout names
// it: "<namespace>_<name>_<uid>" (or "<kernel id>_<uid>"), the UID as
// newUID makes it.
func isPodLogDir(name string) bool {
	i := strings.LastIndexByte(name, '_')
	if i <= 0 {
		return false
	}
	uid := name[i+1:]
	if len(uid) != 36 {
		return false
	}
	for j, r := range uid {
		switch j {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdef", r) {
				return false
			}
		}
	}
	return true
}

// podDirs lists the pod directories under the state directory.
func podDirs(stateDir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(stateDir, "pods"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
