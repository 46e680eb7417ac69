package cgroups

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StatsDirs tells where one cgroup's statistics are: on v2 every field but
// Path names the one directory; on v1 each names that controller's
// hierarchy ("" when the host has none; CPUAcct is "" also when cpuacct
// shares the cpu hierarchy). A caller that does not want the processes
// counted sets Pids to "": cgroup.procs is not read then.
type StatsDirs struct {
	Mode Mode
	// Path is the cgroup as /proc/PID/cgroup shows it, cAdvisor's id.
	Path                       string
	CPU, CPUAcct, Memory, Pids string
}

// statsDirs returns the StatsDirs of the cgroup at rel.
func (l layout) statsDirs(rel ...string) StatsDirs {
	d := StatsDirs{Mode: l.mode, Path: l.cgroupPath(rel...)}
	if l.mode == V2 {
		u := l.dir("", rel...)
		d.CPU, d.Memory, d.Pids = u, u, u
		return d
	}
	d.CPU, d.CPUAcct, d.Memory, d.Pids = l.dir(CPU, rel...), l.dir(CPUAcct, rel...), l.dir(Memory, rel...), l.dir(Pids, rel...)
	return d
}

// Files lists the files ReadStats reads, each under the directory that
// holds it; on v1, cpu.stat and cpu.cfs_period_us only with a CPU quota
// (see quotaOnly).
func (d StatsDirs) Files() []string {
	var out []string
	for _, g := range d.fileGroups() {
		for _, n := range g.names {
			out = append(out, filepath.Join(g.dir, n))
		}
	}
	return out
}

// fileGroup is files ReadStats reads in one directory.
type fileGroup struct {
	dir   string
	names []string
}

// The files ReadStats reads, by controller.
var (
	v2Files        = []string{"cpu.stat", "cpu.max", "memory.current", "memory.stat", "memory.max", "memory.events"}
	v1CPUAcctFiles = []string{"cpuacct.usage"}
	v1CPUFiles     = []string{"cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us"}
	v1MemoryFiles  = []string{"memory.usage_in_bytes", "memory.stat", "memory.limit_in_bytes", "memory.oom_control"}
	procsFiles     = []string{"cgroup.procs"}
)

// fileGroups lists the files ReadStats reads, by directory: each
// directory is opened once and its files relative to it.
func (d StatsDirs) fileGroups() []fileGroup {
	out := make([]fileGroup, 0, 4)
	add := func(dir string, names []string) {
		if dir == "" {
			return
		}
		if n := len(out); n > 0 && out[n-1].dir == dir {
			out[n-1].names = append(slices.Clip(out[n-1].names), names...)
			return
		}
		out = append(out, fileGroup{dir: dir, names: names})
	}
	if d.Mode == V2 {
		add(d.CPU, v2Files)
		add(d.Pids, procsFiles)
		return out
	}
	acct := d.CPUAcct
	if acct == "" {
		acct = d.CPU
	}
	add(acct, v1CPUAcctFiles)
	add(d.CPU, v1CPUFiles)
	add(d.Memory, v1MemoryFiles)
	add(d.Pids, procsFiles)
	return out
}

// quotaOnly tells whether ReadStats reads the file name only when the
// cgroup has a CPU quota: on v1, cpu.stat holds only the CFS periods and
// cpu.cfs_period_us the period, which are reported with a quota only
// (v2's cpu.stat holds the CPU time too). Most containers have no CPU
// limit, and these are two of a cgroup's nine files.
func quotaOnly(mode Mode, name string) bool {
	return mode != V2 && (name == "cpu.stat" || name == "cpu.cfs_period_us")
}

// hasQuota tells whether v1's cpu.cfs_quota_us, with contents q (ok is
// false when the kernel has no such file), sets a CPU quota. A quota
// file that does not parse counts as one: the files are read and
// ParseStats reports the error.
func hasQuota(q string, ok bool) bool {
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(q), 10, 64)
	return err != nil || n > 0
}

// Stats are one cgroup's counters, with cAdvisor's meanings. A Has field is
// false when the host does not provide the values it guards.
type Stats struct {
	// CPUUsage is the CPU time the cgroup's tasks used, children included.
	CPUUsage    time.Duration
	HasCPUUsage bool
	// Periods and ThrottledPeriods are the CFS enforcement periods that
	// elapsed and those in which the cgroup hit its quota.
	Periods, ThrottledPeriods uint64
	// CPUQuota and CPUPeriod are the CFS quota and period in microseconds;
	// CPUQuota is 0 without a quota. Without a quota, ReadStats leaves
	// CPUPeriod and the periods 0 on v1 (it does not read their files).
	CPUQuota, CPUPeriod uint64

	HasMemory bool
	// MemoryUsage is memory.current (v2) or memory.usage_in_bytes (v1);
	// WorkingSet is that minus the inactive file cache, as the kubelet's
	// eviction and `kubectl top` count it; RSS is anonymous memory.
	MemoryUsage, WorkingSet, RSS uint64
	// MemoryLimit is the memory limit in bytes, 0 when unlimited.
	MemoryLimit uint64

	// OOMKills counts the cgroup's processes the OOM killer killed.
	OOMKills    uint64
	HasOOMKills bool

	// Processes is the number of processes (not threads) in the cgroup.
	Processes int
}

// v1Unlimited: the kernel shows an unlimited v1 memory limit as the
// largest page-aligned int64 (9223372036854771712); anything this large
// means no limit.
const v1Unlimited = 1 << 62

// ParseStats computes Stats from file contents keyed by file name (the
// names Files lists; a missing name is a file the host does not have).
func ParseStats(mode Mode, files map[string]string) (Stats, error) {
	if mode == V2 {
		return parseV2(files)
	}
	return parseV1(files)
}

func parseV1(files map[string]string) (Stats, error) {
	var s Stats
	p := parser{files: files}
	if _, ok := files["cpuacct.usage"]; ok {
		s.CPUUsage, s.HasCPUUsage = time.Duration(p.uint("cpuacct.usage")), true
	}
	s.Periods, _ = p.value("cpu.stat", "nr_periods")
	s.ThrottledPeriods, _ = p.value("cpu.stat", "nr_throttled")
	if q := p.int("cpu.cfs_quota_us"); q > 0 {
		s.CPUQuota = uint64(q)
	}
	s.CPUPeriod = p.uint("cpu.cfs_period_us")
	if _, ok := files["memory.usage_in_bytes"]; ok {
		s.HasMemory = true
		s.MemoryUsage = p.uint("memory.usage_in_bytes")
		s.RSS, _ = p.value("memory.stat", "total_rss")
		inactive, _ := p.value("memory.stat", "total_inactive_file")
		s.WorkingSet = workingSet(s.MemoryUsage, inactive)
		if l := p.uint("memory.limit_in_bytes"); l < v1Unlimited {
			s.MemoryLimit = l
		}
	}
	if _, ok := files["memory.oom_control"]; ok {
		// oom_kill exists since Linux 4.13 (see OOMKills).
		s.OOMKills, s.HasOOMKills = p.value("memory.oom_control", "oom_kill")
	}
	s.Processes = p.lines("cgroup.procs")
	return s, p.err
}

func parseV2(files map[string]string) (Stats, error) {
	var s Stats
	p := parser{files: files}
	if _, ok := files["cpu.stat"]; ok {
		usage, _ := p.value("cpu.stat", "usage_usec")
		s.CPUUsage, s.HasCPUUsage = time.Duration(usage)*time.Microsecond, true
		s.Periods, _ = p.value("cpu.stat", "nr_periods")
		s.ThrottledPeriods, _ = p.value("cpu.stat", "nr_throttled")
	}
	if max, ok := files["cpu.max"]; ok {
		s.CPUQuota, s.CPUPeriod = p.cpuMax(max)
	}
	if _, ok := files["memory.current"]; ok {
		s.HasMemory = true
		s.MemoryUsage = p.uint("memory.current")
		s.RSS, _ = p.value("memory.stat", "anon")
		inactive, _ := p.value("memory.stat", "inactive_file")
		s.WorkingSet = workingSet(s.MemoryUsage, inactive)
		if strings.TrimSpace(files["memory.max"]) != "max" {
			s.MemoryLimit = p.uint("memory.max")
		}
	}
	if _, ok := files["memory.events"]; ok {
		s.OOMKills, s.HasOOMKills = p.value("memory.events", "oom_kill")
	}
	s.Processes = p.lines("cgroup.procs")
	return s, p.err
}

// workingSet is usage less the inactive file cache, never below 0, as
// cAdvisor computes it.
func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

// parser reads values out of files, keeping the first error.
type parser struct {
	files map[string]string
	err   error
}

func (p *parser) fail(name string, err error) {
	if p.err == nil {
		p.err = fmt.Errorf("parse %s: %w", name, err)
	}
}

func (p *parser) uint(name string) uint64 {
	data, ok := p.files[name]
	if !ok {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(data), 10, 64)
	if err != nil {
		p.fail(name, err)
	}
	return n
}

func (p *parser) int(name string) int64 {
	data, ok := p.files[name]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(data), 10, 64)
	if err != nil {
		p.fail(name, err)
	}
	return n
}

// value reads key's value in the flat-keyed file name ("key value"
// lines, as cpu.stat and memory.stat), false when the file has no such
// key. Only the key's own line is parsed, nothing is allocated: a scrape
// reads these files for every cgroup.
func (p *parser) value(name, key string) (uint64, bool) {
	for data := p.files[name]; data != ""; {
		var line string
		line, data, _ = strings.Cut(data, "\n")
		k, v, _ := strings.Cut(line, " ")
		if k != key {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			p.fail(name, fmt.Errorf("line %q: %w", line, err))
		}
		return n, true
	}
	return 0, false
}

// cpuMax parses v2's cpu.max: "$QUOTA $PERIOD", QUOTA "max" for none.
func (p *parser) cpuMax(data string) (quota, period uint64) {
	f := strings.Fields(data)
	if len(f) != 2 {
		p.fail("cpu.max", fmt.Errorf("%q: want \"quota period\"", data))
		return 0, 0
	}
	period, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		p.fail("cpu.max", err)
	}
	if f[0] == "max" {
		return 0, period
	}
	if quota, err = strconv.ParseUint(f[0], 10, 64); err != nil {
		p.fail("cpu.max", err)
	}
	return quota, period
}

// lines counts the non-empty lines of a file.
func (p *parser) lines(name string) int {
	n := 0
	for data := p.files[name]; data != ""; {
		var line string
		line, data, _ = strings.Cut(data, "\n")
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}
