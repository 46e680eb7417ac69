package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// readFixture reads a testdata/stats directory as ReadStats would hand
// its files to ParseStats.
func readFixture(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

func TestParseStatsFixtures(t *testing.T) {
	// Both fixtures describe the same container: 50m of CPU quota over a
	// 100 ms period, 32 MiB limit, 24 MiB used of which 4 MiB inactive
	// file cache, 20 MiB anonymous, two OOM kills, two processes.
	want := Stats{
		HasCPUUsage: true, Periods: 120, ThrottledPeriods: 37, CPUQuota: 50000, CPUPeriod: 100000,
		HasMemory: true, MemoryUsage: 24 << 20, WorkingSet: 20 << 20, RSS: 20 << 20, MemoryLimit: 32 << 20,
		OOMKills: 2, HasOOMKills: true, Processes: 2,
	}
	for _, tt := range []struct {
		mode Mode
		dir  string
		cpu  time.Duration
	}{
		{V1, "v1", 7312345678 * time.Nanosecond},
		{V2, "v2", 7312345 * time.Microsecond},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			got, err := ParseStats(tt.mode, readFixture(t, filepath.Join("testdata", "stats", tt.dir)))
			if err != nil {
				t.Fatal(err)
			}
			w := want
			w.CPUUsage = tt.cpu
			if got != w {
				t.Errorf("ParseStats =\n%+v\nwant\n%+v", got, w)
			}
		})
	}
}

func TestParseStatsEdges(t *testing.T) {
	for _, tt := range []struct {
		name    string
		mode    Mode
		files   map[string]string
		want    Stats
		wantErr bool
	}{
		{name: "v1 unlimited", mode: V1, files: map[string]string{
			"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n",
			"memory.usage_in_bytes": "4096\n", "memory.limit_in_bytes": "9223372036854771712\n",
			"memory.stat": "total_inactive_file 8192\n",
		}, want: Stats{CPUPeriod: 100000, HasMemory: true, MemoryUsage: 4096}},
		{name: "v1 before 4.13: no oom_kill", mode: V1, files: map[string]string{
			"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n",
		}, want: Stats{}},
		{name: "v1 no memory controller", mode: V1, files: map[string]string{
			"cpuacct.usage": "5\n", "cgroup.procs": "",
		}, want: Stats{CPUUsage: 5, HasCPUUsage: true}},
		{name: "v2 unlimited", mode: V2, files: map[string]string{
			"cpu.max": "max 100000\n", "memory.current": "4096\n", "memory.max": "max\n",
		}, want: Stats{CPUPeriod: 100000, HasMemory: true, MemoryUsage: 4096, WorkingSet: 4096}},
		{name: "v2 bad cpu.max", mode: V2, files: map[string]string{"cpu.max": "50000\n"}, wantErr: true},
		{name: "v2 bad memory.current", mode: V2, files: map[string]string{"memory.current": "lots\n"}, wantErr: true},
		{name: "v1 bad cpu.stat", mode: V1, files: map[string]string{"cpu.stat": "nr_periods\n"}, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStats(tt.mode, tt.files)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseStats err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("ParseStats =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestStatsDirs(t *testing.T) {
	v1 := layout{mode: Hybrid, parent: "berth", hierarchies: map[string]string{
		CPU: "/cg/cpu", CPUAcct: "/cg/cpuacct", Memory: "/cg/memory", Pids: "/cg/pids", Devices: "/cg/devices",
	}}
	comounted := layout{mode: V1, parent: "berth", hierarchies: map[string]string{CPU: "/cg/cpu", Pids: "/cg/pids"}}
	v2 := layout{mode: V2, parent: "berth", hierarchies: map[string]string{"": "/cg"}}
	for _, tt := range []struct {
		name      string
		l         layout
		rel       []string
		wantDirs  StatsDirs
		wantFiles []string
	}{
		{"v1 apart", v1, []string{"ns_p", "c"},
			StatsDirs{Mode: Hybrid, Path: "/berth/ns_p/c", CPU: "/cg/cpu/berth/ns_p/c", CPUAcct: "/cg/cpuacct/berth/ns_p/c",
				Memory: "/cg/memory/berth/ns_p/c", Pids: "/cg/pids/berth/ns_p/c"},
			[]string{"/cg/cpuacct/berth/ns_p/c/cpuacct.usage", "/cg/cpu/berth/ns_p/c/cpu.stat",
				"/cg/cpu/berth/ns_p/c/cpu.cfs_quota_us", "/cg/cpu/berth/ns_p/c/cpu.cfs_period_us",
				"/cg/memory/berth/ns_p/c/memory.usage_in_bytes", "/cg/memory/berth/ns_p/c/memory.stat",
				"/cg/memory/berth/ns_p/c/memory.limit_in_bytes", "/cg/memory/berth/ns_p/c/memory.oom_control",
				"/cg/pids/berth/ns_p/c/cgroup.procs"}},
		{"v1 comounted, no memory", comounted, []string{"ns_p"},
			StatsDirs{Mode: V1, Path: "/berth/ns_p", CPU: "/cg/cpu/berth/ns_p", Pids: "/cg/pids/berth/ns_p"},
			[]string{"/cg/cpu/berth/ns_p/cpuacct.usage", "/cg/cpu/berth/ns_p/cpu.stat",
				"/cg/cpu/berth/ns_p/cpu.cfs_quota_us", "/cg/cpu/berth/ns_p/cpu.cfs_period_us",
				"/cg/pids/berth/ns_p/cgroup.procs"}},
		{"v2", v2, []string{"ns_p", "c"},
			StatsDirs{Mode: V2, Path: "/berth/ns_p/c", CPU: "/cg/berth/ns_p/c", Memory: "/cg/berth/ns_p/c", Pids: "/cg/berth/ns_p/c"},
			[]string{"/cg/berth/ns_p/c/cpu.stat", "/cg/berth/ns_p/c/cpu.max", "/cg/berth/ns_p/c/memory.current",
				"/cg/berth/ns_p/c/memory.stat", "/cg/berth/ns_p/c/memory.max", "/cg/berth/ns_p/c/memory.events",
				"/cg/berth/ns_p/c/cgroup.procs"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.l.statsDirs(tt.rel...)
			if !reflect.DeepEqual(d, tt.wantDirs) {
				t.Errorf("statsDirs = %+v, want %+v", d, tt.wantDirs)
			}
			if got := d.Files(); !slices.Equal(got, tt.wantFiles) {
				t.Errorf("Files =\n%q\nwant\n%q", got, tt.wantFiles)
			}
		})
	}
}

func TestQuotaOnly(t *testing.T) {
	for _, tt := range []struct {
		mode  Mode
		name  string
		quota string // "" for no cpu.cfs_quota_us
		want  bool   // whether the file is read
	}{
		{V1, "cpu.stat", "-1\n", false},
		{Hybrid, "cpu.cfs_period_us", "-1\n", false},
		{V1, "cpu.stat", "50000\n", true},
		{Hybrid, "cpu.cfs_period_us", "50000\n", true},
		{V1, "cpu.stat", "", false},
		{V1, "cpu.stat", "junk", true}, // read: ParseStats reports the junk
		{V1, "cpu.cfs_quota_us", "-1\n", true},
		{V1, "cpuacct.usage", "-1\n", true},
		{V1, "memory.stat", "-1\n", true},
		{V2, "cpu.stat", "", true},
		{V2, "cpu.max", "", true},
	} {
		if got := !quotaOnly(tt.mode, tt.name) || hasQuota(tt.quota, tt.quota != ""); got != tt.want {
			t.Errorf("%v %s with quota %q: read = %v, want %v", tt.mode, tt.name, tt.quota, got, tt.want)
		}
	}
}
