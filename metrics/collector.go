package metrics

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/kube"
)

// scrapeTimeout bounds how long one scrape waits for the pod list (the
// daemon asks every infra for its status).
const scrapeTimeout = 10 * time.Second

// cAdvisor's label names, in its order; the pod's own cgroup has
// container="" and image="".
var containerLabels = []string{"container", "id", "image", "namespace", "pod"}

// The series `berth top` reads.
const (
	nameCPUUsage   = "container_cpu_usage_seconds_total"
	nameWorkingSet = "container_memory_working_set_bytes"
	nameProcesses  = "container_processes"
)

// family is one metric family of the collector.
type family int

// The collector's families: cAdvisor's series berth reports (labels
// containerLabels, and cpu, device or interface after them for some),
// with cAdvisor's help texts' meaning, the machine's and berth's own.
const (
	famCPUUsage family = iota
	famCFSPeriods
	famCFSThrottled
	famCPUQuota
	famCPUPeriod
	famMemUsage
	famMemWorkingSet
	famMemRSS
	famMemLimit
	famOOMEvents
	famProcesses
	famFSUsage
	famStartTime
	famNetReceive
	famNetTransmit
	famMachineCores
	famMachineMemory
	famPods
	famContainers
	famRestarts
	famScrapeError
	numFamilies
)

var (
	typeCounter = dto.MetricType_COUNTER
	typeGauge   = dto.MetricType_GAUGE
)

// familyDef is a family's name, help and type, as a scrape shows them.
type familyDef struct {
	name, help string
	typ        *dto.MetricType
}

var families = [numFamilies]familyDef{
	famCPUUsage:      {nameCPUUsage, "Cumulative cpu time consumed in seconds.", &typeCounter},
	famCFSPeriods:    {"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", &typeCounter},
	famCFSThrottled:  {"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", &typeCounter},
	famCPUQuota:      {"container_spec_cpu_quota", "CPU quota of the container, in microseconds per period.", &typeGauge},
	famCPUPeriod:     {"container_spec_cpu_period", "CPU period of the container, in microseconds.", &typeGauge},
	famMemUsage:      {"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", &typeGauge},
	famMemWorkingSet: {nameWorkingSet, "Current working set in bytes: usage less inactive file cache.", &typeGauge},
	famMemRSS:        {"container_memory_rss", "Size of RSS (anonymous memory) in bytes.", &typeGauge},
	famMemLimit:      {"container_spec_memory_limit_bytes", "Memory limit for the container in bytes; 0 when unlimited.", &typeGauge},
	famOOMEvents:     {"container_oom_events_total", "Count of out of memory events observed for the container.", &typeCounter},
	famProcesses:     {nameProcesses, "Number of processes running inside the container.", &typeGauge},
	famFSUsage:       {"container_fs_usage_bytes", "Number of bytes that are consumed by the container's writable layer on this filesystem.", &typeGauge},
	famStartTime:     {"container_start_time_seconds", "Start time of the container since unix epoch in seconds.", &typeGauge},
	famNetReceive:    {"container_network_receive_bytes_total", "Cumulative count of bytes received.", &typeCounter},
	famNetTransmit:   {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", &typeCounter},
	famMachineCores:  {"machine_cpu_cores", "Number of logical CPU cores.", &typeGauge},
	famMachineMemory: {"machine_memory_bytes", "Amount of memory installed on the machine.", &typeGauge},
	famPods:          {"berth_pods", "Number of pods berth knows, by phase.", &typeGauge},
	famContainers:    {"berth_containers", "Number of containers of berth's pods, by state.", &typeGauge},
	famRestarts:      {"kube_pod_container_status_restarts_total", "The number of container restarts per container.", &typeCounter},
	famScrapeError:   {"berth_scrape_error", "1 if listing the pods for this scrape failed, 0 otherwise.", &typeGauge},
}

var (
	allPhases          = []string{kube.PodPending, kube.PodRunning, kube.PodSucceeded, kube.PodFailed, kube.PodUnknown}
	allContainerStates = []string{StateRunning, StateWaiting, StateTerminated}
)

// collector reads everything at scrape time, but the writable layers'
// disk use, which it measures at most every layerUsageAge per layer. It
// keeps each cgroup's label pairs (labelCache) while its pod is listed.
//
// It builds its metric families itself rather than as a
// prometheus.Collector: the registry would take each of the thousands of
// series of a scrape over a channel, copy it, check and hash its labels
// and sort the family, about a sixth of a scrape's CPU and a third of its
// allocations. Its series are fixed by this file (gatherer checks that
// no family of the registry has the same name), their label values come
// from validated names.
type collector struct {
	src  Source
	node Node
	log  *slog.Logger
	// proc is where /proc is mounted (tests point it at fixtures).
	proc string
	// layers caches layerUsage by layer directory.
	layers layerCache
	// labels keeps each cgroup's label pairs.
	labels labelCache
}

// collectWorkers is how many pods a scrape reads at once: their cgroup
// and /proc files are independent, and a scrape of many pods would
// otherwise wait on each read in turn.
const collectWorkers = 4

// gather reads one scrape's families, in no particular order.
func (c *collector) gather() []*dto.MetricFamily {
	out := points{arena: &arena{}}
	out.add(famMachineCores, nil, float64(c.node.CPUs))
	out.add(famMachineMemory, nil, float64(c.node.MemoryBytes))
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	pods, err := c.src.Pods(ctx)
	if err != nil {
		c.log.Warn("metrics: list pods", "err", err)
		out.add(famScrapeError, nil, 1)
		return familiesOf(out)
	}
	out.add(famScrapeError, nil, 0)
	collectPipeline(&out, pods)
	perPod := make([]points, len(pods))
	todo := make(chan int)
	var wg sync.WaitGroup
	for range min(collectWorkers, len(pods)) {
		wg.Go(func() {
			a := &arena{}
			for i := range todo {
				perPod[i].arena = a
				c.collectPod(&perPod[i], pods[i])
			}
		})
	}
	for i := range pods {
		todo <- i
	}
	close(todo)
	wg.Wait()
	c.layers.keepOnly(pods)
	c.labels.keepOnly(pods)
	return familiesOf(append(perPod, out)...)
}

// collectPipeline reports pods by phase, containers by state and restarts.
func collectPipeline(out *points, pods []Pod) {
	phases, states := map[string]int{}, map[string]int{}
	for _, p := range pods {
		phases[p.Phase]++
		for _, ctr := range p.Containers {
			states[ctr.State]++
			out.add(famRestarts, labelPairs("container", ctr.Name, "namespace", p.Namespace, "pod", p.Name, "uid", p.UID), float64(ctr.Restarts))
		}
	}
	for _, ph := range allPhases {
		out.add(famPods, labelPairs("phase", ph), float64(phases[ph]))
	}
	for _, s := range allContainerStates {
		out.add(famContainers, labelPairs("container_state", s), float64(states[s]))
	}
}

func (c *collector) collectPod(out *points, p Pod) {
	key := labelKey{values: [5]string{"", p.Cgroup.Path, "", p.Namespace, p.Name}}
	var net Interface
	hasNet := false
	if p.NetPID > 0 {
		var err error
		net, hasNet, err = readNetDev(c.proc, p.NetPID, p.NetInterface)
		if err != nil {
			c.log.Debug("metrics: pod network counters", "pod", p.Namespace+"/"+p.Name, "err", err)
		}
		if hasNet {
			key.extraName, key.extraValue = "interface", net.Name
		}
	}
	labels := c.labels.get(key)
	podCgroup := p.Cgroup
	podCgroup.Pids = "" // its processes are not reported: see readCgroup
	if s, ok := c.readCgroup(podCgroup); ok {
		addStats(out, s, labels, false)
	}
	if hasNet {
		out.add(famNetReceive, labels.extra, float64(net.RxBytes))
		out.add(famNetTransmit, labels.extra, float64(net.TxBytes))
	}
	for _, ctr := range p.Containers {
		s, ok := c.readCgroup(ctr.Cgroup)
		if !ok {
			continue
		}
		key := labelKey{values: [5]string{ctr.Name, ctr.Cgroup.Path, ctr.Image, p.Namespace, p.Name}}
		var layerBytes uint64
		hasLayer := false
		if ctr.Layer != "" {
			n, dev, err := c.layers.usage(ctr.Layer)
			if err != nil {
				c.log.Debug("metrics: writable layer usage", "pod", p.Namespace+"/"+p.Name, "container", ctr.Name, "err", err)
			} else {
				layerBytes, hasLayer = n, true
				key.extraName, key.extraValue = "device", dev
			}
		}
		labels := c.labels.get(key)
		addStats(out, s, labels, true)
		if !ctr.StartedAt.IsZero() {
			out.add(famStartTime, labels.base, float64(ctr.StartedAt.UnixNano())/1e9)
		}
		if hasLayer {
			out.add(famFSUsage, labels.extra, float64(layerBytes))
		}
	}
}

// readCgroup reads one cgroup's statistics, false when it does not
// exist or cannot be read. Processes are counted for a container's
// cgroup only: a pod cgroup's own cgroup.procs is empty, its processes
// are in the leaves below.
func (c *collector) readCgroup(d cgroups.StatsDirs) (cgroups.Stats, bool) {
	if d.Path == "" {
		return cgroups.Stats{}, false
	}
	s, err := cgroups.ReadStats(d)
	if errors.Is(err, os.ErrNotExist) {
		return cgroups.Stats{}, false // not created yet, or gone since the pod list was read
	}
	if err != nil {
		c.log.Warn("metrics: cgroup statistics", "cgroup", d.Path, "err", err)
		return cgroups.Stats{}, false
	}
	return s, true
}

// addStats maps one cgroup's Stats onto cAdvisor's series;
// container_processes only when processes is true.
func addStats(out *points, s cgroups.Stats, l *labelSet, processes bool) {
	if s.HasCPUUsage {
		out.add(famCPUUsage, l.cpu, s.CPUUsage.Seconds())
	}
	if s.CPUQuota > 0 {
		out.add(famCPUQuota, l.base, float64(s.CPUQuota))
		out.add(famCPUPeriod, l.base, float64(s.CPUPeriod))
		out.add(famCFSPeriods, l.base, float64(s.Periods))
		out.add(famCFSThrottled, l.base, float64(s.ThrottledPeriods))
	}
	if s.HasMemory {
		out.add(famMemUsage, l.base, float64(s.MemoryUsage))
		out.add(famMemWorkingSet, l.base, float64(s.WorkingSet))
		out.add(famMemRSS, l.base, float64(s.RSS))
		out.add(famMemLimit, l.base, float64(s.MemoryLimit))
	}
	if s.HasOOMKills {
		out.add(famOOMEvents, l.base, float64(s.OOMKills))
	}
	if processes {
		out.add(famProcesses, l.base, float64(s.Processes))
	}
}
