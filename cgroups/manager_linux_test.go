package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDetect(t *testing.T) {
	if _, err := Detect(t.TempDir()); !errors.Is(err, ErrNoCgroups) {
		t.Errorf("Detect(tempdir) = %v, want ErrNoCgroups", err)
	}
	mode, err := Detect(DefaultRoot)
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	t.Logf("host cgroup mode: %s", mode)
	if mode == Hybrid {
		if got, err := Detect(filepath.Join(DefaultRoot, "unified")); got != V2 || err != nil {
			t.Errorf("Detect(unified mount) = %v, %v, want v2", got, err)
		}
	}
}

func TestNewRejectsBadParent(t *testing.T) {
	for _, p := range []string{"/abs", "../up", "a/../b", "a//b", ".x"} {
		if _, err := New(Options{Parent: p}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("New(Parent %q) = %v, want ErrInvalidName", p, err)
		}
	}
}

// needAll skips unless m can use every controller berth manages.
func needAll(t *testing.T, m *Manager) {
	t.Helper()
	if err := m.Check(Controllers); err != nil {
		t.Skipf("host lacks controllers: %v", err)
	}
}

func TestLimitsWrittenAndReset(t *testing.T) {
	m := newTestManager(t, DefaultRoot)
	needAll(t, m)
	pod, ctr := "default_limits", "app"
	c := Container{Limits: Quantities{CPUMilli: 500, MemoryBytes: 64 << 20}, Requests: Quantities{CPUMilli: 250}}
	cr, err := ForContainer(c)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := ForPod([]Container{c})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsurePod(pod, pr); err != nil {
		t.Fatal(err)
	}
	if _, err := m.EnsureContainer(pod, ctr, cr); err != nil {
		t.Fatal(err)
	}
	podPids := strconv.Itoa(DefaultPidsMax + podPidsHeadroom)
	podMem := strconv.Itoa(64<<20 + podMemoryHeadroom + podMemoryHeadroomPerContainer)
	want := map[string]map[string]string{ // file -> rel -> value
		"v1": {
			"cpu/cpu.cfs_quota_us":             "50000",
			"cpu/cpu.cfs_period_us":            "100000",
			"cpu/cpu.shares":                   "256",
			"memory/memory.limit_in_bytes":     "67108864",
			"pids/pids.max":                    "4096",
			"pod:cpu/cpu.cfs_quota_us":         "50000",
			"pod:cpu/cpu.shares":               "256",
			"pod:memory/memory.limit_in_bytes": podMem,
			"pod:pids/pids.max":                podPids,
		},
		"v2": {
			"cpu/cpu.max":             "50000 100000",
			"cpu/cpu.weight":          "10",
			"memory/memory.max":       "67108864",
			"memory/memory.oom.group": "1",
			"pids/pids.max":           "4096",
			"pod:cpu/cpu.max":         "50000 100000",
			"pod:memory/memory.max":   podMem,
			"pod:pids/pids.max":       podPids,
		},
	}
	assertFiles(t, m, pod, ctr, want)

	// Re-ensuring with no limits converges to unlimited.
	ensureUnlimited(t, m, pod, ctr)
	assertFiles(t, m, pod, ctr, map[string]map[string]string{
		"v1": {
			"cpu/cpu.cfs_quota_us":         "-1",
			"cpu/cpu.shares":               "1024",
			"memory/memory.limit_in_bytes": "9223372036854771712",
			"pids/pids.max":                "max",
			"pod:cpu/cpu.cfs_quota_us":     "-1",
			"pod:pids/pids.max":            "max",
		},
		"v2": {
			"cpu/cpu.max":           "max 100000",
			"memory/memory.max":     "max",
			"pids/pids.max":         "max",
			"pod:memory/memory.max": "max",
		},
	})
}

// TestFreshCgroupStartsUnlimited: a cgroup ensure makes is not told the
// unlimited values (see ensure), so the kernel's own defaults for a new
// cgroup must be exactly berth's unlimited ones, on v1 and on v2.
func TestFreshCgroupStartsUnlimited(t *testing.T) {
	m := newTestManager(t, DefaultRoot)
	needAll(t, m)
	pod, ctr := "default_fresh", "app"
	ensureUnlimited(t, m, pod, ctr)
	assertFiles(t, m, pod, ctr, map[string]map[string]string{
		"v1": {
			"cpu/cpu.cfs_quota_us":             "-1",
			"cpu/cpu.cfs_period_us":            "100000",
			"cpu/cpu.shares":                   "1024",
			"memory/memory.limit_in_bytes":     "9223372036854771712",
			"pids/pids.max":                    "max",
			"pod:cpu/cpu.cfs_quota_us":         "-1",
			"pod:cpu/cpu.shares":               "1024",
			"pod:memory/memory.limit_in_bytes": "9223372036854771712",
			"pod:pids/pids.max":                "max",
		},
		"v2": {
			"cpu/cpu.max":             "max 100000",
			"cpu/cpu.weight":          "100",
			"memory/memory.max":       "max",
			"memory/memory.oom.group": "1",
			"pids/pids.max":           "max",
			"pod:cpu/cpu.max":         "max 100000",
			"pod:memory/memory.max":   "max",
			"pod:pids/pids.max":       "max",
		},
	})
}

// ensureUnlimited ensures the pod's and the container's cgroups with no
// limits.
func ensureUnlimited(t *testing.T, m *Manager, pod, ctr string) {
	t.Helper()
	if err := m.EnsurePod(pod, Resources{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.EnsureContainer(pod, ctr, Resources{}); err != nil {
		t.Fatal(err)
	}
}

// assertFiles reads back "[pod:]controller/file" entries for the host's
// mode (v1 tables serve hybrid hosts too).
func assertFiles(t *testing.T, m *Manager, pod, ctr string, want map[string]map[string]string) {
	t.Helper()
	mode := "v1"
	if m.mode == V2 {
		mode = "v2"
	}
	for key, val := range want[mode] {
		rel := []string{pod, ctr}
		if k, ok := strings.CutPrefix(key, "pod:"); ok {
			key, rel = k, []string{pod}
		}
		c, file := filepath.Split(key)
		path := ctrlFile(m, filepath.Clean(c), file, rel...)
		if got := readFile(t, path); got != val {
			t.Errorf("%s = %q, want %q", path, got, val)
		}
	}
}

// TestPlaceKillRemove runs on every cgroup mount of the host: processes are
// placed through Placement (v1: the process writes its PID; v2:
// CLONE_INTO_CGROUP) and through AddProcess, then Kill and Remove clean up.
func TestPlaceKillRemove(t *testing.T) {
	for _, root := range roots(t) {
		t.Run(root, func(t *testing.T) {
			m := newTestManager(t, root)
			pod := "default_place"
			pr, cr := Resources{}, Resources{}
			if m.Check(Controllers) == nil {
				var err error
				if pr, err = ForPod([]Container{{}}); err != nil {
					t.Fatal(err)
				}
				if cr, err = ForContainer(Container{}); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.EnsurePod(pod, pr); err != nil {
				t.Fatal(err)
			}
			infra, err := m.EnsureInfra(pod)
			if err != nil {
				t.Fatal(err)
			}
			app, err := m.EnsureContainer(pod, "app", cr)
			if err != nil {
				t.Fatal(err)
			}
			if (app.Dir != "") != (m.Mode() == V2) || (len(app.Procs) > 0) == (m.Mode() == V2) {
				t.Fatalf("placement %+v does not fit mode %s", app, m.Mode())
			}
			// On v1 the devices hierarchy is joined and removed like the others.
			if dir := m.l.devicesDir(pod, "app"); dir != "" && !slices.Contains(app.Procs, filepath.Join(dir, "cgroup.procs")) {
				t.Errorf("placement %v does not join the devices cgroup %s", app.Procs, dir)
			}
			procs := []*child{startHelper(t, "sleep", infra), startHelper(t, "sleep", app)}
			assertIn(t, m, procs[0].pid, pod, InfraName)
			assertIn(t, m, procs[1].pid, pod, "app")

			// A process started elsewhere and moved in with AddProcess.
			moved := startHelper(t, "sleep", Placement{})
			if err := app.AddProcess(moved.pid); err != nil {
				t.Fatal(err)
			}
			assertIn(t, m, moved.pid, pod, "app")
			procs = append(procs, moved)

			if pods, err := m.Pods(); err != nil || !slices.Equal(pods, []string{pod}) {
				t.Errorf("Pods() = %v, %v, want [%s]", pods, err, pod)
			}
			if err := m.Kill(pod); err != nil {
				t.Fatal(err)
			}
			for _, p := range procs {
				if err := p.wait(t, 10*time.Second); !killedBySIGKILL(err) {
					t.Errorf("process %d: %v, want killed by SIGKILL", p.pid, err)
				}
			}
			if err := m.RemoveContainer(pod, "app"); err != nil {
				t.Fatal(err)
			}
			if err := m.Remove(pod); err != nil {
				t.Fatal(err)
			}
			for _, d := range m.l.dirs(pod) {
				if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s still there after Remove (%v)", d, err)
				}
			}
			if pods, err := m.Pods(); err != nil || len(pods) != 0 {
				t.Errorf("Pods() after Remove = %v, %v, want none", pods, err)
			}
			if err := m.Remove(pod); err != nil {
				t.Errorf("second Remove: %v", err)
			}
			if err := m.Kill(pod); err != nil {
				t.Errorf("Kill of a removed pod: %v", err)
			}
		})
	}
}

// TestSignalLoop exercises the kill path used where cgroup.kill is missing
// (v1, and v2 before Linux 5.14) on every mount, including its refusal to
// signal a PID that is not in the pod.
func TestSignalLoop(t *testing.T) {
	for _, root := range roots(t) {
		t.Run(root, func(t *testing.T) {
			m := newTestManager(t, root)
			pod := "default_loop"
			if err := m.EnsurePod(pod, Resources{}); err != nil {
				t.Fatal(err)
			}
			p, err := m.EnsureContainer(pod, "app", Resources{})
			if err != nil {
				t.Fatal(err)
			}
			in := startHelper(t, "sleep", p)
			out := startHelper(t, "sleep", Placement{})
			tasks, err := m.tasks(pod)
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks) != 1 || tasks[0].pid != in.pid {
				t.Fatalf("tasks = %+v, want only pid %d", tasks, in.pid)
			}
			// A task list naming a process outside the pod must spare it.
			spoof := append(tasks, task{hierarchy: tasks[0].hierarchy, pid: out.pid})
			if err := m.signal(pod, spoof); err != nil {
				t.Fatal(err)
			}
			if err := in.wait(t, 10*time.Second); !killedBySIGKILL(err) {
				t.Errorf("process in pod: %v, want killed by SIGKILL", err)
			}
			select {
			case err := <-out.done:
				t.Errorf("process outside the pod ended: %v", err)
			default:
			}
			waitFor(t, 10*time.Second, "empty pod cgroup", func() bool {
				ts, err := m.tasks(pod)
				return err == nil && len(ts) == 0
			})
		})
	}
}

// TestControllerMissing builds a parent whose own parent hands down no
// controllers (an empty cgroup.subtree_control above it), as on a v2 host
// that does not delegate them, and checks the errors berth gives.
func TestControllerMissing(t *testing.T) {
	rs := roots(t)
	root := rs[len(rs)-1]
	if mode, _ := Detect(root); mode != V2 {
		t.Skip("needs a cgroup2 mount")
	}
	m := newTestManagerIn(t, root, "closed/berth", func(top string) {
		// top/closed gets no controllers: top's subtree_control stays empty.
		if err := os.MkdirAll(filepath.Join(top, "closed"), 0o755); err != nil {
			t.Fatal(err)
		}
	})
	if avail := m.Controllers(); len(avail) != 0 {
		t.Fatalf("Controllers() = %v under an empty subtree_control", avail)
	}
	err := m.Check([]string{CPU, Memory})
	t.Logf("Check: %v", err)
	if !errors.Is(err, ErrControllerMissing) {
		t.Fatalf("Check = %v, want ErrControllerMissing", err)
	}
	for _, want := range []string{"controller cpu not enabled in", "controller memory not enabled in",
		"cgroup.subtree_control", "Delegate=yes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %q lacks %q", err, want)
		}
	}
	if err := m.EnsurePod("default_x", Resources{PidsMax: 10}); !errors.Is(err, ErrControllerMissing) {
		t.Errorf("EnsurePod with a pids limit = %v, want ErrControllerMissing", err)
	}
	// Without limits the pod still gets a cgroup to be placed in.
	if err := m.EnsurePod("default_x", Resources{}); err != nil {
		t.Errorf("EnsurePod without limits: %v", err)
	}
	if _, err := m.OOMKills("default_x", "app"); err == nil {
		t.Error("OOMKills without a memory controller succeeded")
	}
}

func TestOOMKill(t *testing.T) {
	m := newTestManager(t, DefaultRoot)
	needAll(t, m)
	pod := "default_oom"
	c := Container{Limits: Quantities{MemoryBytes: 32 << 20}}
	pr, err := ForPod([]Container{c})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := ForContainer(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsurePod(pod, pr); err != nil {
		t.Fatal(err)
	}
	p, err := m.EnsureContainer(pod, "hog", cr)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.OOMKills(pod, "hog"); err != nil || n != 0 {
		t.Fatalf("OOMKills before = %d, %v, want 0", n, err)
	}
	hog := startHelper(t, "alloc", p)
	if err := hog.wait(t, 60*time.Second); !killedBySIGKILL(err) {
		t.Fatalf("allocating 256 MiB under a 32 MiB limit: %v, want killed by SIGKILL", err)
	}
	n, err := m.OOMKills(pod, "hog")
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("OOMKills = 0 after an OOM kill")
	}
}

func TestCPUThrottled(t *testing.T) {
	m := newTestManager(t, DefaultRoot)
	needAll(t, m)
	pod := "default_cpu"
	// Half a CPU: a spinning helper is throttled all the same, and it
	// starts (a Go test binary) quickly even under software emulation.
	c := Container{Limits: Quantities{CPUMilli: 500}}
	pr, err := ForPod([]Container{c})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := ForContainer(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsurePod(pod, pr); err != nil {
		t.Fatal(err)
	}
	p, err := m.EnsureContainer(pod, "spin", cr)
	if err != nil {
		t.Fatal(err)
	}
	startHelper(t, "spin", p)
	stat := ctrlFile(m, CPU, "cpu.stat", pod, "spin")
	waitFor(t, 20*time.Second, "nr_throttled > 0 in "+stat, func() bool {
		data, err := os.ReadFile(stat)
		if err != nil {
			return false
		}
		kv, err := parseKV(string(data))
		return err == nil && kv["nr_throttled"] > 0
	})
	if err := m.Kill(pod); err != nil {
		t.Fatal(err)
	}
}
