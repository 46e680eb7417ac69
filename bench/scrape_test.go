package main

import (
	"bytes"
	"testing"
)

func TestParseScrapeFacts(t *testing.T) {
	in := `# HELP go_memstats_alloc_bytes_total Total number of bytes allocated.
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total 1.2345e+06
go_memstats_mallocs_total 4000
go_memstats_heap_alloc_bytes 2048
process_cpu_seconds_total 1.5
container_processes{container="app",id="/x",image="i",namespace="default",pod="p"} 1
`
	got := parseScrapeFacts(bytes.NewBufferString(in))
	want := scrapeFacts{allocBytes: 1.2345e6, mallocs: 4000, heapAlloc: 2048, cpuSeconds: 1.5, series: 5}
	if got != want {
		t.Errorf("parseScrapeFacts = %+v, want %+v", got, want)
	}
}
