// Package procstat reads a process's start time from /proc/PID/stat. With
// the PID it names a process for good: berth never trusts a bare PID, which
// the kernel may hand to another process once the first one is gone.
package procstat

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// StartTime returns the start time of process pid in clock ticks since
// boot. A process that does not exist gives an error wrapping
// os.ErrNotExist.
func StartTime(pid int) (uint64, error) {
	st, _, err := StartTimeAndState(pid)
	return st, err
}

// StartTimeAndState returns the start time of process pid and its state
// (field 3: 'R', 'S', ..., 'Z' for a zombie, which has exited and waits for
// its parent to reap it, keeping its PID and start time until then).
func StartTimeAndState(pid int) (uint64, byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("start time of process %d: %w", pid, err)
	}
	st, err := ParseStartTime(string(b))
	if err != nil {
		return 0, 0, fmt.Errorf("start time of process %d: %w", pid, err)
	}
	// ParseStartTime found the fields after the name.
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	return st, f[0][0], nil
}

// ParseStartTime returns field 22 (starttime) of a /proc/PID/stat line.
// The command name (field 2) may contain spaces and parentheses, so fields
// are counted after its last ')'.
func ParseStartTime(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed stat: no ')'")
	}
	f := strings.Fields(stat[i+1:])
	const startTimeIdx = 22 - 3 // f[0] is field 3 (state)
	if len(f) <= startTimeIdx {
		return 0, fmt.Errorf("malformed stat: %d fields after the name", len(f))
	}
	n, err := strconv.ParseUint(f[startTimeIdx], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed stat: starttime %q: %w", f[startTimeIdx], err)
	}
	return n, nil
}
