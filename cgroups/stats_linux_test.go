package cgroups

import (
	"errors"
	"os"
	"testing"
	"time"
)

// TestReadStats reads a real container cgroup with a spinning process: on
// this host's layout (v1, hybrid or v2), every value the metrics report.
func TestReadStats(t *testing.T) {
	m := newTestManager(t, DefaultRoot)
	needAll(t, m)
	pod := "default_stats"
	c := Container{Limits: Quantities{CPUMilli: 100, MemoryBytes: 64 << 20}}
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
	d, err := m.StatsDirs(pod, "spin")
	if err != nil {
		t.Fatal(err)
	}
	startHelper(t, "spin", p)
	var s Stats
	waitFor(t, 20*time.Second, "CPU time and a throttled period in "+d.Path, func() bool {
		if s, err = ReadStats(d); err != nil {
			t.Fatal(err)
		}
		return s.CPUUsage > 0 && s.ThrottledPeriods > 0
	})
	t.Logf("%s: %+v", d.Path, s)
	if !s.HasCPUUsage || !s.HasMemory || !s.HasOOMKills {
		t.Errorf("stats lack CPU time, memory or the OOM counter: %+v", s)
	}
	if s.CPUQuota != 10000 || s.CPUPeriod != 100000 || s.MemoryLimit != 64<<20 {
		t.Errorf("quota %d/%d, memory limit %d: want 10000/100000 and %d", s.CPUQuota, s.CPUPeriod, s.MemoryLimit, 64<<20)
	}
	if s.Processes != 1 || s.WorkingSet == 0 || s.WorkingSet > s.MemoryUsage || s.OOMKills != 0 {
		t.Errorf("processes %d, working set %d of usage %d, OOM kills %d: want 1, 0 < ws <= usage, 0",
			s.Processes, s.WorkingSet, s.MemoryUsage, s.OOMKills)
	}
	pd, err := m.StatsDirs(pod, "")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ReadStats(pd)
	if err != nil {
		t.Fatal(err)
	}
	if ps.CPUUsage < s.CPUUsage || ps.MemoryLimit <= s.MemoryLimit {
		t.Errorf("pod cgroup: CPU %s below its container's %s, or memory limit %d not above %d", ps.CPUUsage, s.CPUUsage, ps.MemoryLimit, s.MemoryLimit)
	}
	gone, err := m.StatsDirs(pod, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStats(gone); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadStats of a missing cgroup = %v, want os.ErrNotExist", err)
	}
	if err := m.Kill(pod); err != nil {
		t.Fatal(err)
	}
}

// TestReadStatsNoQuota: without a CPU quota, the CPU time and memory are
// read, and on v1 the CFS files are not (their values stay 0).
func TestReadStatsNoQuota(t *testing.T) {
	m := newTestManager(t, DefaultRoot)
	needAll(t, m)
	pod := "default_statsnoquota"
	c := Container{}
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
	d, err := m.StatsDirs(pod, "spin")
	if err != nil {
		t.Fatal(err)
	}
	startHelper(t, "spin", p)
	var s Stats
	waitFor(t, 20*time.Second, "CPU time in "+d.Path, func() bool {
		if s, err = ReadStats(d); err != nil {
			t.Fatal(err)
		}
		return s.CPUUsage > 0
	})
	if !s.HasCPUUsage || !s.HasMemory || s.MemoryUsage == 0 || s.Processes != 1 || s.CPUQuota != 0 {
		t.Errorf("stats %+v: want CPU time, memory, one process and no quota", s)
	}
	if d.Mode != V2 && (s.CPUPeriod != 0 || s.Periods != 0) {
		t.Errorf("v1 stats without a quota: period %d, periods %d; want 0 (not read)", s.CPUPeriod, s.Periods)
	}
	if err := m.Kill(pod); err != nil {
		t.Fatal(err)
	}
}
