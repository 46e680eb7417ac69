package metrics

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ContainerKey names one container across scrapes.
type ContainerKey struct {
	Namespace, Pod, Container string
}

// Sample is what `berth top` reads of one container in one scrape.
type Sample struct {
	CPUSeconds float64 // container_cpu_usage_seconds_total
	WorkingSet float64 // container_memory_working_set_bytes
	Processes  float64 // container_processes
}

// ParseSamples reads a scrape in the text exposition format and returns
// each container's CPU time and working set; the pods' own cgroups
// (container="") are left out, as kubectl top adds up the containers.
func ParseSamples(r io.Reader) (map[ContainerKey]Sample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	out := map[ContainerKey]Sample{}
	read := func(name string, set func(*Sample, float64)) {
		f, ok := fams[name]
		if !ok {
			return
		}
		for _, m := range f.GetMetric() {
			var k ContainerKey
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "namespace":
					k.Namespace = l.GetValue()
				case "pod":
					k.Pod = l.GetValue()
				case "container":
					k.Container = l.GetValue()
				}
			}
			if k.Container == "" {
				continue
			}
			s := out[k]
			v := m.GetCounter().GetValue()
			if m.GetGauge() != nil {
				v = m.GetGauge().GetValue()
			}
			set(&s, v)
			out[k] = s
		}
	}
	read(nameCPUUsage, func(s *Sample, v float64) { s.CPUSeconds = v })
	read(nameWorkingSet, func(s *Sample, v float64) { s.WorkingSet = v })
	read(nameProcesses, func(s *Sample, v float64) { s.Processes = v })
	return out, nil
}

// TopRow is one line of `berth top pods`: a pod, or one container of it.
type TopRow struct {
	Namespace, Pod, Container string
	// MilliCPU is the CPU used over the window, in thousandths of a core.
	MilliCPU int64
	// Memory is the working set in bytes.
	Memory int64
}

// Top computes the rows from two scrapes taken elapsed apart: one per
// container, or one per pod (its containers added up) unless containers.
// A container missing from either scrape (started or gone in between), or
// without processes (exited), is left out, as kubectl top shows only
// running containers.
func Top(before, after map[ContainerKey]Sample, elapsed time.Duration, containers bool) []TopRow {
	type podKey struct{ ns, pod string }
	type sum struct{ cpu, mem float64 }
	var rows []TopRow
	pods := map[podKey]*sum{}
	for k, a := range after {
		b, ok := before[k]
		if !ok || elapsed <= 0 || a.Processes == 0 {
			continue
		}
		cpu := max(a.CPUSeconds-b.CPUSeconds, 0) / elapsed.Seconds()
		if containers {
			rows = append(rows, TopRow{Namespace: k.Namespace, Pod: k.Pod, Container: k.Container, MilliCPU: milli(cpu), Memory: int64(a.WorkingSet)})
			continue
		}
		pk := podKey{k.Namespace, k.Pod}
		if pods[pk] == nil {
			pods[pk] = &sum{}
		}
		pods[pk].cpu += cpu
		pods[pk].mem += a.WorkingSet
	}
	for k, s := range pods {
		rows = append(rows, TopRow{Namespace: k.ns, Pod: k.pod, MilliCPU: milli(s.cpu), Memory: int64(s.mem)})
	}
	slices.SortFunc(rows, func(a, b TopRow) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Pod, b.Pod), cmp.Compare(a.Container, b.Container))
	})
	return rows
}

// milli rounds cores up to millicores, as a Kubernetes quantity's
// MilliValue does.
func milli(cores float64) int64 { return int64(math.Ceil(cores*1000 - 1e-9)) }

// SortTop orders rows by "cpu" or "memory", highest first, as kubectl
// top's --sort-by; "" keeps them by namespace and name.
func SortTop(rows []TopRow, by string) error {
	var key func(TopRow) int64
	switch by {
	case "":
		return nil
	case "cpu":
		key = func(r TopRow) int64 { return r.MilliCPU }
	case "memory":
		key = func(r TopRow) int64 { return r.Memory }
	default:
		return fmt.Errorf("--sort-by %q: use cpu or memory", by)
	}
	slices.SortStableFunc(rows, func(a, b TopRow) int { return cmp.Compare(key(b), key(a)) })
	return nil
}

// PrintTop writes the rows as kubectl top pods does: NAMESPACE with
// allNamespaces, POD and NAME with containers, CPU in millicores and
// memory in MiB.
func PrintTop(w io.Writer, rows []TopRow, allNamespaces, containers bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	header := []string{"NAME", "CPU(cores)", "MEMORY(bytes)"}
	if containers {
		header = append([]string{"POD"}, header...)
	}
	if allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	printRow(tw, header)
	for _, r := range rows {
		cells := []string{r.Pod}
		if containers {
			cells = append(cells, r.Container)
		}
		if allNamespaces {
			cells = append([]string{r.Namespace}, cells...)
		}
		printRow(tw, append(cells, fmt.Sprintf("%dm", r.MilliCPU), fmt.Sprintf("%dMi", r.Memory/(1<<20))))
	}
	return tw.Flush()
}

func printRow(w io.Writer, cells []string) {
	for i, c := range cells {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		io.WriteString(w, c)
	}
	io.WriteString(w, "\n")
}
