package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoCounter is returned when the kernel does not provide a counter berth
// reads (for example memory.oom_control without oom_kill before Linux 4.13).
var ErrNoCounter = errors.New("counter not provided by this kernel")

// parseKV parses the "key value" lines of flat-keyed cgroup files such as
// memory.events, memory.oom_control and cpu.stat.
func parseKV(data string) (map[string]uint64, error) {
	out := make(map[string]uint64)
	for _, line := range strings.Split(data, "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("line %q: want \"key value\"", line)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %q: %w", line, err)
		}
		out[k] = n
	}
	return out, nil
}

// inCgroup reports whether the /proc/PID/cgroup content procCgroup places the
// process at or below path in the hierarchy named by controller ("" for the
// v2 unified hierarchy).
func inCgroup(procCgroup, controller, path string) bool {
	for _, line := range strings.Split(procCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		match := controller == "" && parts[0] == "0" && parts[1] == ""
		for _, c := range strings.Split(parts[1], ",") {
			match = match || controller != "" && c == controller
		}
		if match {
			return parts[2] == path || strings.HasPrefix(parts[2], path+"/")
		}
	}
	return false
}
