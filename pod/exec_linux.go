package pod

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/procstat"
)

// hostPID translates podPID, a container's PID as its infra reports it (in
// the infra's pid namespace, which is the pod's own with
// shareProcessNamespace), into the host PID, by looking at the processes of
// the container's cgroup (procsFile) and their NSpid lines. It returns the
// PID with its start time, read between two matching NSpid reads so that
// the pair names the process that was found.
func hostPID(procsFile string, infraPID, podPID int) (int, uint64, error) {
	infraNS, err := readNSpid(infraPID)
	if err != nil {
		return 0, 0, fmt.Errorf("infra %d: %w", infraPID, err)
	}
	level := len(infraNS) - 1
	b, err := os.ReadFile(procsFile)
	if err != nil {
		return 0, 0, err
	}
	procs := map[int][]int{}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", procsFile, f, err)
		}
		if ns, err := readNSpid(pid); err == nil {
			procs[pid] = ns // a process that exited meanwhile is skipped
		}
	}
	pid, ok := matchNSpid(procs, level, podPID)
	if !ok {
		return 0, 0, fmt.Errorf("no process of %s has pid %d in the infra's pid namespace", procsFile, podPID)
	}
	start, err := procstat.StartTime(pid)
	if err != nil {
		return 0, 0, fmt.Errorf("read start time of %d: %w", pid, err)
	}
	again, err := readNSpid(pid)
	if err != nil || len(again) <= level || again[level] != podPID {
		return 0, 0, fmt.Errorf("process %d exited while it was looked at", pid)
	}
	return pid, start, nil
}

func readNSpid(pid int) ([]int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	return parseNSpid(string(b))
}
