package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/api"
)

// scrapeRuns is how many scrapes the scrape scenario measures, after
// scrapeWarmup.
const (
	scrapeRuns   = 50
	scrapeWarmup = 5
)

// scrapeScenarios starts bn.burst one-container pods, then scrapes the
// daemon's /metrics on its socket scrapeRuns times, one after the other:
// each scrape's wall time, the daemon's CPU time for it (its
// process_cpu_seconds_total, a figure the other work on a shared machine
// does not inflate as much), what the daemon allocated for it (the change
// of its own go_memstats_alloc_bytes_total from one scrape to the next:
// the daemon is otherwise idle), and the series and heap at the first and
// last scrape, which must not grow.
func (bn *bench) scrapeScenarios() ([]*Scenario, error) {
	tag := fmt.Sprintf("scrape-%d", bn.burst)
	took := &Scenario{Name: tag, Unit: "ms"}
	allocs := &Scenario{Name: tag + "-alloc", Unit: "kB/scrape"}
	mallocs := &Scenario{Name: tag + "-mallocs", Unit: "allocs/scrape"}
	cpu := &Scenario{Name: tag + "-cpu", Unit: "ms/scrape"}
	var docs []string
	for _, n := range burstNames("scrape", bn.burst) {
		docs = append(docs, podYAML(oneContainer, n, imageRef))
	}
	multi, err := bn.writeFile("scrape.yaml", multiDoc(docs))
	if err != nil {
		return nil, err
	}
	if _, err := bn.b.timedCLI("apply", "-f", multi, "--timeout", "10m"); err != nil {
		return nil, fmt.Errorf("%s: berth apply: %w", tag, err)
	}
	var prev, first scrapeFacts
	for i := 0; i < scrapeWarmup+scrapeRuns; i++ {
		var buf bytes.Buffer
		t0 := time.Now()
		if err := bn.b.client().Metrics(context.Background(), &buf); err != nil {
			return nil, fmt.Errorf("%s: %w", tag, err)
		}
		d := time.Since(t0)
		f := parseScrapeFacts(&buf)
		if i >= scrapeWarmup {
			took.add("berth", ms(d))
			allocs.add("berth", (f.allocBytes-prev.allocBytes)/1024)
			mallocs.add("berth", f.mallocs-prev.mallocs)
			cpu.add("berth", (f.cpuSeconds-prev.cpuSeconds)*1000)
		}
		if i == scrapeWarmup {
			first = f
		}
		prev = f
	}
	took.note("series_first", first.series)
	took.note("series_last", prev.series)
	// Means over the measured scrapes: the CPU counter moves in 10 ms
	// ticks, so its median per scrape is coarse.
	runs := float64(scrapeRuns - 1)
	cpu.note("mean", (prev.cpuSeconds-first.cpuSeconds)*1000/runs)
	allocs.note("mean", (prev.allocBytes-first.allocBytes)/1024/runs)
	mallocs.note("mean", (prev.mallocs-first.mallocs)/runs)
	allocs.note("heap_alloc_kb_first", first.heapAlloc/1024)
	allocs.note("heap_alloc_kb_last", prev.heapAlloc/1024)
	if _, err := bn.b.timedCLI("delete", "-f", multi, "--timeout", "10m"); err != nil {
		return nil, fmt.Errorf("%s: berth delete: %w", tag, err)
	}
	if err := bn.waitPods(func(ps []api.Pod) bool { return len(ps) == 0 }); err != nil {
		return nil, err
	}
	bn.b.timings()
	return []*Scenario{took, cpu, allocs, mallocs}, nil
}

// scrapeFacts is what the scrape scenario reads from one scrape: the
// daemon's allocation counters and heap, and how many series it had.
type scrapeFacts struct {
	allocBytes, mallocs, heapAlloc, cpuSeconds float64
	series                                     int
}

// parseScrapeFacts reads a scrape in the text exposition format.
func parseScrapeFacts(r *bytes.Buffer) scrapeFacts {
	var f scrapeFacts
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f.series++
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_alloc_bytes_total":
			f.allocBytes = v
		case "go_memstats_mallocs_total":
			f.mallocs = v
		case "go_memstats_heap_alloc_bytes":
			f.heapAlloc = v
		case "process_cpu_seconds_total":
			f.cpuSeconds = v
		}
	}
	return f
}
