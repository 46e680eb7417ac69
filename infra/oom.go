package infra

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// parseOOMKill returns the oom_kill counter of a cgroup v2 memory.events or
// v1 memory.oom_control file; both hold a line "oom_kill N".
func parseOOMKill(data []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := bytes.Cut(sc.Bytes(), []byte(" "))
		if !ok || string(key) != "oom_kill" {
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(val)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("oom_kill value %q: %w", val, err)
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no oom_kill line")
}

// readOOMKill reads the oom_kill counter from file.
func readOOMKill(file string) (uint64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read oom events: %w", err)
	}
	n, err := parseOOMKill(data)
	if err != nil {
		return 0, fmt.Errorf("parse oom events %s: %w", file, err)
	}
	return n, nil
}
