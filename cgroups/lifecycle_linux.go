package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sysfile"
)

// ErrNotEmpty is returned when processes outlive Kill's time limit.
var ErrNotEmpty = errors.New("cgroup still has processes")

const (
	// killTimeout bounds Kill. SIGKILL cannot be caught, so only tasks in
	// uninterruptible sleep (for example on a dead NFS server) outlive it.
	killTimeout = 10 * time.Second
	// maxPoll caps the back-off between checks while Kill waits.
	maxPoll = 100 * time.Millisecond
	// rmdirTries bounds the EBUSY retries of one rmdir (10 ms doubling:
	// about 0.6 s in all); a cgroup is briefly busy right after its last
	// task exited.
	rmdirTries = 7
)

// task is a process found in one hierarchy of a pod's cgroups.
type task struct {
	hierarchy string // controller name on v1, "" on v2
	pid       int
}

// Kill sends SIGKILL to every process in the pod's cgroups and waits, with
// back-off and a time limit, until they are gone. On v2 it writes cgroup.kill
// (Linux 5.14+), which also catches processes forking meanwhile. Otherwise it
// signals every listed process and repeats until the cgroups are empty: new
// children of a dying parent are caught by the next pass, and pids.max bounds
// how many there can be. Kill of a pod without cgroups succeeds.
//
// It does not use cgroup2.Manager.Kill: its fallback freezes without a time
// limit and waits for processes that are not berth's children.
func (m *Manager) Kill(pod string) error {
	if err := ValidateName(pod); err != nil {
		return err
	}
	killed, err := m.writeKillFile(pod)
	if err != nil {
		return fmt.Errorf("kill pod %s: %w", pod, err)
	}
	deadline := time.Now().Add(killTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, maxPoll) {
		tasks, err := m.tasks(pod)
		if err != nil {
			return fmt.Errorf("kill pod %s: %w", pod, err)
		}
		if len(tasks) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kill pod %s: %d processes left after %s: %w", pod, len(tasks), killTimeout, ErrNotEmpty)
		}
		if !killed {
			if err := m.signal(pod, tasks); err != nil {
				return fmt.Errorf("kill pod %s: %w", pod, err)
			}
		}
		time.Sleep(delay)
	}
}

// writeKillFile writes "1" to the pod's cgroup.kill on v2 and reports
// whether it did. Writing the file directly is the whole operation; the
// library's Kill is not used for the reason given at Kill.
func (m *Manager) writeKillFile(pod string) (bool, error) {
	if m.mode != V2 {
		return false, nil
	}
	file := filepath.Join(m.l.dirs(pod)[0], "cgroup.kill")
	if _, err := os.Stat(file); err != nil {
		// No file: an older kernel (fall back to signals), or no pod cgroup.
		return false, nil
	}
	if err := sysfile.WriteExisting(file, "1"); err != nil {
		return false, err
	}
	return true, nil
}

// tasks lists the processes in the pod's cgroups, all hierarchies, children
// included. A pod without cgroups has none.
func (m *Manager) tasks(pod string) ([]task, error) {
	path := m.l.cgroupPath(pod)
	var out []task
	if m.mode == V2 {
		cg, err := cgroup2.Load(path, cgroup2.WithMountpoint(m.root))
		if err != nil {
			return nil, fmt.Errorf("load cgroup %s: %w", path, err)
		}
		pids, err := cg.Procs(true)
		if errors.Is(err, os.ErrNotExist) && missing(m.l.dirs(pod)[0]) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list processes of cgroup %s: %w", path, err)
		}
		for _, p := range pids {
			out = append(out, task{pid: int(p)})
		}
		return out, nil
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(path), cgroup1.WithHierarchy(m.v1Subsystems))
	if errors.Is(err, cgroup1.ErrCgroupDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load cgroup %s: %w", path, err)
	}
	for _, s := range cg.Subsystems() {
		procs, err := cg.Processes(s.Name(), true)
		if errors.Is(err, os.ErrNotExist) && missing(filepath.Join(m.l.hierarchies[string(s.Name())], path)) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list processes of cgroup %s (%s): %w", path, s.Name(), err)
		}
		for _, p := range procs {
			t := task{hierarchy: string(s.Name()), pid: p.Pid}
			if !slices.ContainsFunc(out, func(o task) bool { return o.pid == t.pid }) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// missing reports whether the cgroup directory dir does not exist. A listing
// that fails with ENOENT means "no processes" only then; otherwise a child
// cgroup vanished mid-walk and the error stands.
func missing(dir string) bool {
	_, err := os.Stat(dir)
	return errors.Is(err, os.ErrNotExist)
}

// signal sends SIGKILL to each task through a pidfd, after checking through
// /proc that the pid still belongs to the pod: a pid read from cgroup.procs
// may have been reused by an unrelated process since. The pidfd pins the
// process, so the check and the kill are about the same one (if it died in
// between, the kill fails with ESRCH and harms nobody).
func (m *Manager) signal(pod string, tasks []task) error {
	path := m.l.cgroupPath(pod)
	for _, t := range tasks {
		fd, err := unix.PidfdOpen(t.pid, 0)
		if errors.Is(err, unix.ESRCH) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open pidfd of process %d: %w", t.pid, err)
		}
		err = killIfIn(fd, t, path)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

func killIfIn(pidfd int, t task, path string) error {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(t.pid) + "/cgroup")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read cgroups of process %d: %w", t.pid, err)
	}
	if !inCgroup(string(data), t.hierarchy, path) {
		return nil
	}
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill process %d: %w", t.pid, err)
	}
	return nil
}

// Remove removes the pod's cgroups, children first, in every hierarchy. It
// is idempotent; the pod must have been killed (a cgroup with processes
// stays busy and Remove fails after a few retries).
func (m *Manager) Remove(pod string) error {
	if err := ValidateName(pod); err != nil {
		return err
	}
	if err := m.removeAll(pod); err != nil {
		return fmt.Errorf("remove cgroups of pod %s: %w", pod, err)
	}
	m.log.Debug("pod cgroups removed", "podID", pod)
	return nil
}

// RemoveContainer removes one container's cgroups; idempotent.
func (m *Manager) RemoveContainer(pod, ctr string) error {
	if err := errors.Join(ValidateName(pod), ValidateName(ctr)); err != nil {
		return err
	}
	if err := m.removeAll(pod, ctr); err != nil {
		return fmt.Errorf("remove cgroups of container %s in pod %s: %w", ctr, pod, err)
	}
	return nil
}

func (m *Manager) removeAll(rel ...string) error {
	var errs []error
	for _, d := range m.l.dirs(rel...) {
		errs = append(errs, m.removeTree(d))
	}
	return errors.Join(errs...)
}

// removeTree removes a cgroup directory and its descendants. cgroupfs only
// allows rmdir of a directory that has no child cgroups (its interface files
// go with it), so neither os.RemoveAll nor the library's Delete (which
// handles one leaf) fits.
func (m *Manager) removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list cgroup %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := m.removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := 10 * time.Millisecond
	for try := 1; ; try++ {
		err := unix.Rmdir(dir)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
			return nil
		case !errors.Is(err, unix.EBUSY) || try == rmdirTries:
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		m.log.Debug("cgroup busy, retrying", "dir", dir, "try", try)
		time.Sleep(delay)
		delay *= 2
	}
}

// Pods lists the pod cgroups that exist under the parent in any hierarchy,
// sorted, so that cleanup after a crash finds pods without saved state.
// Entries that are not valid pod names are not berth's and are skipped.
func (m *Manager) Pods() ([]string, error) {
	var pods []string
	for _, d := range m.l.dirs() {
		entries, err := os.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list pod cgroups in %s: %w", d, err)
		}
		for _, e := range entries {
			if e.IsDir() && ValidateName(e.Name()) == nil {
				pods = append(pods, e.Name())
			}
		}
	}
	slices.Sort(pods)
	return slices.Compact(pods), nil
}

// OOMKills returns how many processes of the container the kernel's OOM
// killer has killed: oom_kill of memory.events on v2, of memory.oom_control
// on v1. The v1 field exists since Linux 4.13; older kernels give
// ErrNoCounter rather than a guess (memory.failcnt counts reclaim at the
// limit, not kills, and under_oom only shows with the OOM killer disabled).
// The files are parsed here because containerd's stats report a missing
// field as 0, which would hide that case.
func (m *Manager) OOMKills(pod, ctr string) (uint64, error) {
	if err := errors.Join(ValidateName(pod), ValidateName(ctr)); err != nil {
		return 0, err
	}
	file, _ := m.OOMEventsFile(pod, ctr)
	if file == "" {
		return 0, fmt.Errorf("read OOM kills of container %s in pod %s: %w: %s", ctr, pod, ErrControllerMissing, Memory)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read OOM kills of container %s in pod %s: %w", ctr, pod, err)
	}
	kv, err := parseKV(string(data))
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", file, err)
	}
	n, ok := kv["oom_kill"]
	if !ok {
		return 0, fmt.Errorf("read OOM kills from %s: %w", file, ErrNoCounter)
	}
	return n, nil
}

// OOMEventsFile names the file holding a container cgroup's oom_kill
// counter and its format: "v2" (memory.events) or "v1"
// (memory.oom_control). The infra reads it around each run of the
// container to tell an OOM kill from another SIGKILL. Both are empty when
// the memory controller is missing.
func (m *Manager) OOMEventsFile(pod, ctr string) (file, format string) {
	dir := m.l.memoryDir(pod, ctr)
	if dir == "" {
		return "", ""
	}
	if m.mode == V2 {
		return filepath.Join(dir, "memory.events"), "v2"
	}
	return filepath.Join(dir, "memory.oom_control"), "v1"
}
