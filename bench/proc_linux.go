package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func readMemAvailable() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	return parseMemAvailable(string(b))
}

func readMem(pid int) (memUsage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return memUsage{}, err
	}
	return parseSmapsRollup(string(b))
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

// processes returns every process of the host with its stat; processes
// that exit while being read are left out.
func processes() map[int]procStat {
	ents, _ := os.ReadDir("/proc")
	out := make(map[int]procStat, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out
}

// descendants returns the processes below root (not root itself).
func descendants(procs map[int]procStat, root int) []int {
	children := map[int][]int{}
	for pid, st := range procs {
		children[st.PPID] = append(children[st.PPID], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// exeName is the base name of the file a process runs (the workload shows
// as "demo"; a process exec'd from a sealed memfd as "memfd:...").
func exeName(pid int) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return ""
	}
	return filepath.Base(p)
}

// cpuNanos sums the CPU time of the given processes from the schedstat of
// each of their threads (/proc/PID/schedstat covers one thread only),
// which counts nanoseconds where stat's utime and stime count 10 ms ticks.
// Threads gone meanwhile count 0.
func cpuNanos(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if ns, err := parseSchedstat(string(b)); err == nil {
				sum += ns
			}
		}
	}
	return sum
}

// waitWorkloadsHandleSIGTERM waits until every process running the demo
// workload has its SIGTERM handler installed. A workload is pid 1 of its
// pid namespace, and the kernel drops a signal without a handler sent to
// such a process: a pod stopped in the first instants of its workload's
// life waits out its whole grace period (with berth and with podman
// alike). The stop scenario measures tear-down, not that race.
func waitWorkloadsHandleSIGTERM(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pending := 0
		for pid := range processes() {
			if exeName(pid) != "demo" {
				continue
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				continue
			}
			if ok, err := catchesSignal(string(b), int(syscall.SIGTERM)); err == nil && !ok {
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d workload processes still without a SIGTERM handler after %s", pending, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}
