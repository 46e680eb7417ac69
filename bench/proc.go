package main

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// memUsage is one process's memory from /proc/PID/smaps_rollup, in kB.
type memUsage struct {
	RSS, PSS int64
}

// parseSmapsRollup reads the Rss and Pss lines of smaps_rollup.
func parseSmapsRollup(s string) (memUsage, error) {
	var m memUsage
	found := 0
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		var dst *int64
		switch f[0] {
		case "Rss:":
			dst = &m.RSS
		case "Pss:":
			dst = &m.PSS
		default:
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return m, fmt.Errorf("smaps_rollup %s: %w", f[0], err)
		}
		*dst = v
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("smaps_rollup: Rss or Pss missing")
	}
	return m, nil
}

// parseMemAvailable returns MemAvailable from /proc/meminfo, in kB.
func parseMemAvailable(s string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("meminfo: no MemAvailable")
}

// procStat is what the harness reads from /proc/PID/stat.
type procStat struct {
	Comm string
	PPID int
	// CPU is utime+stime in clock ticks; ChildCPU cutime+cstime, the CPU
	// of the children it has waited for (and of theirs it was given).
	CPU, ChildCPU int64
}

// parseStat parses /proc/PID/stat; comm may hold spaces and parentheses,
// so the fields are counted from its last ')'.
func parseStat(s string) (procStat, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("stat: no comm")
	}
	f := strings.Fields(s[end+1:])
	// After comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13)
	// cstime(14).
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat: %d fields after comm", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("stat ppid: %w", err)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procStat{}, fmt.Errorf("stat utime/stime: %q %q", f[11], f[12])
	}
	cut, err1 := strconv.ParseInt(f[13], 10, 64)
	cst, err2 := strconv.ParseInt(f[14], 10, 64)
	if err1 != nil || err2 != nil {
		return procStat{}, fmt.Errorf("stat cutime/cstime: %q %q", f[13], f[14])
	}
	return procStat{Comm: s[open+1 : end], PPID: ppid, CPU: ut + st, ChildCPU: cut + cst}, nil
}

// catchesSignal reports whether a /proc/PID/status text shows a handler
// for signal sig (its SigCgt mask).
func catchesSignal(status string, sig int) (bool, error) {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, "SigCgt:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return false, fmt.Errorf("SigCgt %q: %w", v, err)
		}
		return mask&(1<<(sig-1)) != 0, nil
	}
	return false, fmt.Errorf("status: no SigCgt")
}

// parseSchedstat returns the first field of /proc/PID/schedstat: the
// nanoseconds the process has run on a CPU.
func parseSchedstat(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) < 1 {
		return 0, fmt.Errorf("schedstat: empty")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// podTiming is one "pod created" line of the daemon's log: the total and
// each phase's duration.
type podTiming struct {
	Pod    string
	Phases map[string]time.Duration
}

// parsePodTiming reads a slog text line such as
//
//	time=... level=INFO msg="pod created" pod=default/x total=12ms images=1ms ...
//
// and reports whether it was one.
func parsePodTiming(line string) (podTiming, bool) { return parseTiming(line, "pod created") }

// parseTiming parses a daemon log line with message msg and its phases
// ("pod created", "pod updated in place").
func parseTiming(line, msg string) (podTiming, bool) {
	if !strings.Contains(line, `msg="`+msg+`"`) {
		return podTiming{}, false
	}
	t := podTiming{Phases: map[string]time.Duration{}}
	for _, kv := range strings.Fields(line) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if k == "pod" {
			t.Pod = v
			continue
		}
		if d, err := time.ParseDuration(v); err == nil {
			t.Phases[k] = d
		}
	}
	_, ok := t.Phases["total"]
	return t, ok
}

// parseVmHWM reads the "VmHWM:" line (peak RSS, kB) of /proc/PID/status.
func parseVmHWM(status string) (int64, bool) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}
