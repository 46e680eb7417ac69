package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/berth-project/berth/cgroups"
)

const dashboardFile = "../contrib/grafana/berth.json"

// TestDashboardUsesExportedMetrics checks that the Grafana dashboard is
// valid JSON with panels and that every metric its queries name is one
// this package serves.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if len(dash.Panels) == 0 {
		t.Fatalf("%s: no panels", dashboardFile)
	}
	exported := exportedNames(t)
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no queries", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	vars := map[string]bool{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		q, ok := v.Query.(map[string]any)
		if !ok {
			t.Fatalf("variable %s: query is %T, want an object", v.Name, v.Query)
		}
		m := labelValues.FindStringSubmatch(q["query"].(string))
		if m == nil {
			t.Fatalf("variable %s: %q is not label_values(SERIES, LABEL)", v.Name, q["query"])
		}
		exprs = append(exprs, m[1])
	}
	for _, want := range []string{"namespace", "pod"} {
		if !vars[want] {
			t.Errorf("no %q template variable", want)
		}
	}
	used := 0
	for _, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("query %q names no metric", e)
		}
		for _, n := range names {
			used++
			if !exported[n] {
				t.Errorf("query %q uses %s, which berth does not export", e, n)
			}
		}
	}
	t.Logf("%d panels, %d queries, %d metric references", len(dash.Panels), len(exprs), used)
}

var labelValues = regexp.MustCompile(`^label_values\((.*),\s*[a-zA-Z_]\w*\)$`)

// exportedNames gathers the registry over a source with a pod whose
// container runs, so that every collector emits its series, and returns
// the names a query can use (a histogram's _bucket, _sum and _count too).
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	layer := t.TempDir()
	src := fakeSource{pods: []Pod{{Namespace: "ns", Name: "p", UID: "u", Phase: "Running", NetPID: 4242, NetInterface: "eth0",
		Cgroup: fixtureDirs(cgroups.V1, "v1", "/berth/ns_p"),
		Containers: []Container{{Name: "app", Image: "demo:1", State: StateRunning, Restarts: 1, StartedAt: time.Unix(1700000000, 0),
			Cgroup: fixtureDirs(cgroups.V1, "v1", "/berth/ns_p/app"), Layer: layer}}}}}
	m := newMetrics(src, Node{CPUs: 1, MemoryBytes: 1 << 30}, nil, filepath.Join("testdata", "proc"))
	m.ObservePodStart(time.Second)
	m.ObserveReconcile(time.Millisecond)
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		case dto.MetricType_SUMMARY:
			for _, s := range []string{"_sum", "_count"} {
				names[f.GetName()+s] = true
			}
		}
	}
	return names
}

// promKeywords are PromQL words that are not metric names: operators,
// modifiers and the aggregations, which may be followed by "by (...)"
// before their parenthesis.
var promKeywords = map[string]bool{
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// metricNames returns the metric names a PromQL expression selects: the
// identifiers outside label matchers, ranges and strings that are neither
// functions, aggregations, keywords nor the label lists of by, without,
// on and ignoring.
func metricNames(expr string) []string {
	var names []string
	skipList := false // the next (...) lists labels
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{' || c == '[':
			end := map[byte]byte{'{': '}', '[': ']'}[c]
			for i++; i < len(expr) && expr[i] != end; {
				if q := expr[i]; q == '"' || q == '\'' || q == '`' {
					i = skipString(expr, i)
					continue
				}
				i++
			}
			i++
		case c == '(' && skipList:
			j := strings.IndexByte(expr[i:], ')')
			if j < 0 {
				return append(names, "unbalanced (")
			}
			i += j + 1
			skipList = false
		case c == '$':
			i++
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdent(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			switch lw := strings.ToLower(word); {
			case lw == "by" || lw == "without" || lw == "on" || lw == "ignoring" || lw == "group_left" || lw == "group_right":
				skipList = true
			case promKeywords[lw]:
			case k < len(expr) && expr[k] == '(':
				// a function or an aggregation
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

// skipString returns the index after the string literal starting at i.
func skipString(expr string, i int) int {
	q := expr[i]
	for i++; i < len(expr) && expr[i] != q; i++ {
		if expr[i] == '\\' && q != '`' {
			i++
		}
	}
	return i + 1
}

func isIdent(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func TestMetricNames(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{`sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{pod=~"$pod", cpu="total"}[$__rate_interval]))`, "container_cpu_usage_seconds_total"},
		{`histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))`, "x_bucket"},
		{`sum(a) without (instance) / on (pod) group_left (container) b > 0`, "a b"},
		{`-sum by (pod) (c{l="a{b}"}) and bool d offset 5m`, "c d"},
		{`max(berth_scrape_error)`, "berth_scrape_error"},
		{`1e3 * 2`, ""},
		{`count without (x) (topk by (y) (3, e{a='}'}))`, "e"},
	} {
		if got := strings.Join(metricNames(tt.expr), " "); got != tt.want {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
