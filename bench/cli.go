package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// cliScenarios measure what every CLI verb pays before it does its work:
// the whole process's wall time of `berth version` and `berth validate` on
// a one-pod file, beside the demo workload's `exit 0` (a small static Go
// binary: the floor of any Go process here), interleaved; and, in
// cli-init, the package initialisation of one `berth version` as
// GODEBUG=inittrace=1 reports it: summed over packages ("init"), and when
// the last one ended, counted from the runtime's start ("until-main").
func (bn *bench) cliScenarios() ([]*Scenario, error) {
	wall := &Scenario{Name: "cli-start", Unit: "ms"}
	inits := &Scenario{Name: "cli-init", Unit: "ms"}
	f, err := bn.writeFile("cli-validate.yaml", podYAML(oneContainer, "cli-validate", imageRef))
	if err != nil {
		return nil, err
	}
	runs := []struct {
		series string
		bin    string
		args   []string
	}{
		{"berth-version", bn.e.berthBin, []string{"version"}},
		{"berth-validate", bn.e.berthBin, []string{"validate", f}},
		{"go-floor", bn.e.demoBin, []string{"exit", "0"}},
	}
	var heap []float64
	for i := 0; i < bn.warmup+bn.n; i++ {
		keep := i >= bn.warmup
		for _, r := range runs {
			t, err := timed(nil, r.bin, r.args...)
			if err != nil {
				return nil, fmt.Errorf("cli start %s: %w", r.series, err)
			}
			if keep {
				wall.add(r.series, t)
			}
		}
		trace, err := stderrOf([]string{"GODEBUG=inittrace=1"}, bn.e.berthBin, "version")
		if err != nil {
			return nil, fmt.Errorf("cli init: %w", err)
		}
		sum, err := parseInitTrace(trace)
		if err != nil {
			return nil, fmt.Errorf("cli init: %w", err)
		}
		if keep {
			inits.add("init", sum.ms)
			inits.add("until-main", sum.end)
			heap = append(heap, float64(sum.bytes)/1024)
		}
	}
	inits.note("heap_kB", Summarize(heap))
	return []*Scenario{wall, inits}, nil
}

// initSum is the total of a GODEBUG=inittrace=1 report.
type initSum struct {
	packages int
	ms       float64 // clock time of all package inits
	end      float64 // when the last one ended, ms from the runtime's start
	bytes    int64   // heap they allocated
}

// parseInitTrace sums the runtime's inittrace lines,
//
//	init net/http @1.2 ms, 0.032 ms clock, 4712 bytes, 49 allocs
//
// ignoring every other line of the text.
func parseInitTrace(s string) (initSum, error) {
	var sum initSum
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 11 || f[0] != "init" || f[5] != "ms" || f[6] != "clock," || f[8] != "bytes," {
			continue
		}
		at, err := strconv.ParseFloat(strings.TrimPrefix(f[2], "@"), 64)
		if err != nil {
			return initSum{}, fmt.Errorf("inittrace %q: %w", line, err)
		}
		clock, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return initSum{}, fmt.Errorf("inittrace %q: %w", line, err)
		}
		b, err := strconv.ParseInt(f[7], 10, 64)
		if err != nil {
			return initSum{}, fmt.Errorf("inittrace %q: %w", line, err)
		}
		sum.packages++
		sum.ms += clock
		sum.end = max(sum.end, at+clock)
		sum.bytes += b
	}
	if sum.packages == 0 {
		return initSum{}, fmt.Errorf("inittrace: no init lines")
	}
	return sum, nil
}

// stderrOf runs a command and returns what it wrote to standard error.
func stderrOf(extraEnv []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return errb.String(), nil
}
