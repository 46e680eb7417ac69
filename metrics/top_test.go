package metrics

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSamplesAndTop(t *testing.T) {
	scrape := func(cpuA, cpuB, memA float64) string {
		return `# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="",cpu="total",id="/berth/default_web",image="",namespace="default",pod="web"} 99
container_cpu_usage_seconds_total{container="a",cpu="total",id="/berth/default_web/a",image="demo",namespace="default",pod="web"} ` + f(cpuA) + `
container_cpu_usage_seconds_total{container="b",cpu="total",id="/berth/default_web/b",image="demo",namespace="default",pod="web"} ` + f(cpuB) + `
container_cpu_usage_seconds_total{container="c",cpu="total",id="/berth/kube_db/c",image="demo",namespace="kube",pod="db"} 1
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="",id="/berth/default_web",image="",namespace="default",pod="web"} 1e9
container_memory_working_set_bytes{container="a",id="/berth/default_web/a",image="demo",namespace="default",pod="web"} ` + f(memA) + `
container_memory_working_set_bytes{container="b",id="/berth/default_web/b",image="demo",namespace="default",pod="web"} 1048576
container_memory_working_set_bytes{container="c",id="/berth/kube_db/c",image="demo",namespace="kube",pod="db"} 3145728
container_memory_working_set_bytes{container="x",id="/berth/kube_db/x",image="demo",namespace="kube",pod="db"} 5e6
container_cpu_usage_seconds_total{container="x",cpu="total",id="/berth/kube_db/x",image="demo",namespace="kube",pod="db"} 1
# TYPE container_processes gauge
container_processes{container="a",id="/berth/default_web/a",image="demo",namespace="default",pod="web"} 2
container_processes{container="b",id="/berth/default_web/b",image="demo",namespace="default",pod="web"} 1
container_processes{container="c",id="/berth/kube_db/c",image="demo",namespace="kube",pod="db"} 1
container_processes{container="x",id="/berth/kube_db/x",image="demo",namespace="kube",pod="db"} 0
`
	}
	before, err := ParseSamples(strings.NewReader(scrape(10, 2, 0)))
	if err != nil {
		t.Fatal(err)
	}
	after, err := ParseSamples(strings.NewReader(scrape(10.5, 2.0004, 20<<20)))
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 4 {
		t.Fatalf("ParseSamples: %d containers, want 4 (the pod cgroups left out): %v", len(after), after)
	}
	for _, tt := range []struct {
		name       string
		containers bool
		all        bool
		sortBy     string
		want       string
	}{
		{"pods", false, true, "",
			"NAMESPACE   NAME   CPU(cores)   MEMORY(bytes)\n" +
				"default     web    501m         21Mi\n" +
				"kube        db     0m           3Mi\n"},
		{"containers by memory", true, false, "memory",
			"POD   NAME   CPU(cores)   MEMORY(bytes)\n" +
				"web   a      500m         20Mi\n" +
				"db    c      0m           3Mi\n" +
				"web   b      1m           1Mi\n"},
		{"pods by cpu", false, false, "cpu",
			"NAME   CPU(cores)   MEMORY(bytes)\n" +
				"web    501m         21Mi\n" +
				"db     0m           3Mi\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows := Top(before, after, time.Second, tt.containers)
			if err := SortTop(rows, tt.sortBy); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := PrintTop(&b, rows, tt.all, tt.containers); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
	if err := SortTop(nil, "disk"); err == nil {
		t.Error("SortTop(disk) = nil, want an error")
	}
	if rows := Top(nil, after, time.Second, false); len(rows) != 0 {
		t.Errorf("Top without a first scrape = %v, want no rows", rows)
	}
}

func f(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
