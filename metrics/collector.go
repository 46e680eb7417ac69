package metrics

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/kube"
)

// scrapeTimeout bounds how long one scrape waits for the pod list (the
// daemon asks every infra for its status).
const scrapeTimeout = 10 * time.Second

// cAdvisor's label names, in its order; the pod's own cgroup has
// container="" and image="".
var containerLabels = []string{"container", "id", "image", "namespace", "pod"}

func containerDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(append([]string{}, containerLabels...), extra...), nil)
}

// The series `berth top` reads.
const (
	nameCPUUsage   = "container_cpu_usage_seconds_total"
	nameWorkingSet = "container_memory_working_set_bytes"
	nameProcesses  = "container_processes"
)

// The cAdvisor series berth reports, with cAdvisor's help texts' meaning.
var (
	descCPUUsage        = containerDesc(nameCPUUsage, "Cumulative cpu time consumed in seconds.", "cpu")
	descCFSPeriods      = containerDesc("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.")
	descCFSThrottled    = containerDesc("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.")
	descCPUQuota        = containerDesc("container_spec_cpu_quota", "CPU quota of the container, in microseconds per period.")
	descCPUPeriod       = containerDesc("container_spec_cpu_period", "CPU period of the container, in microseconds.")
	descMemUsage        = containerDesc("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.")
	descMemWorkingSet   = containerDesc(nameWorkingSet, "Current working set in bytes: usage less inactive file cache.")
	descMemRSS          = containerDesc("container_memory_rss", "Size of RSS (anonymous memory) in bytes.")
	descMemLimit        = containerDesc("container_spec_memory_limit_bytes", "Memory limit for the container in bytes; 0 when unlimited.")
	descOOMEvents       = containerDesc("container_oom_events_total", "Count of out of memory events observed for the container.")
	descProcesses       = containerDesc(nameProcesses, "Number of processes running inside the container.")
	descFSUsage         = containerDesc("container_fs_usage_bytes", "Number of bytes that are consumed by the container's writable layer on this filesystem.", "device")
	descStartTime       = containerDesc("container_start_time_seconds", "Start time of the container since unix epoch in seconds.")
	descNetReceive      = containerDesc("container_network_receive_bytes_total", "Cumulative count of bytes received.", "interface")
	descNetTransmit     = containerDesc("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", "interface")
	descMachineCores    = prometheus.NewDesc("machine_cpu_cores", "Number of logical CPU cores.", nil, nil)
	descMachineMemory   = prometheus.NewDesc("machine_memory_bytes", "Amount of memory installed on the machine.", nil, nil)
	descPods            = prometheus.NewDesc("berth_pods", "Number of pods berth knows, by phase.", []string{"phase"}, nil)
	descContainers      = prometheus.NewDesc("berth_containers", "Number of containers of berth's pods, by state.", []string{"container_state"}, nil)
	descRestarts        = prometheus.NewDesc("kube_pod_container_status_restarts_total", "The number of container restarts per container.", []string{"namespace", "pod", "uid", "container"}, nil)
	descScrapeError     = prometheus.NewDesc("berth_scrape_error", "1 if listing the pods for this scrape failed, 0 otherwise.", nil, nil)
	allPhases           = []string{kube.PodPending, kube.PodRunning, kube.PodSucceeded, kube.PodFailed, kube.PodUnknown}
	allContainerStates  = []string{StateRunning, StateWaiting, StateTerminated}
	containerCollectors = []*prometheus.Desc{
		descCPUUsage, descCFSPeriods, descCFSThrottled, descCPUQuota, descCPUPeriod,
		descMemUsage, descMemWorkingSet, descMemRSS, descMemLimit, descOOMEvents, descProcesses,
		descFSUsage, descStartTime, descNetReceive, descNetTransmit,
		descMachineCores, descMachineMemory, descPods, descContainers, descRestarts, descScrapeError,
	}
)

// collector reads everything at scrape time, but the writable layers'
// disk use, which it measures at most every layerUsageAge per layer. It
// keeps each cgroup's label pairs (labelCache) while its pod is listed.
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

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range containerCollectors {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- gauge(descMachineCores, float64(c.node.CPUs))
	ch <- gauge(descMachineMemory, float64(c.node.MemoryBytes))
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	pods, err := c.src.Pods(ctx)
	if err != nil {
		c.log.Warn("metrics: list pods", "err", err)
		ch <- gauge(descScrapeError, 1)
		return
	}
	ch <- gauge(descScrapeError, 0)
	c.collectPipeline(ch, pods)
	todo := make(chan Pod)
	var wg sync.WaitGroup
	for range min(collectWorkers, len(pods)) {
		wg.Go(func() {
			for p := range todo {
				c.collectPod(ch, p)
			}
		})
	}
	for _, p := range pods {
		todo <- p
	}
	close(todo)
	wg.Wait()
	c.layers.keepOnly(pods)
	c.labels.keepOnly(pods)
}

// collectPipeline reports pods by phase, containers by state and restarts.
func (c *collector) collectPipeline(ch chan<- prometheus.Metric, pods []Pod) {
	phases, states := map[string]int{}, map[string]int{}
	for _, p := range pods {
		phases[p.Phase]++
		for _, ctr := range p.Containers {
			states[ctr.State]++
			ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(ctr.Restarts), p.Namespace, p.Name, p.UID, ctr.Name)
		}
	}
	for _, ph := range allPhases {
		ch <- gauge(descPods, float64(phases[ph]), ph)
	}
	for _, s := range allContainerStates {
		ch <- gauge(descContainers, float64(states[s]), s)
	}
}

func (c *collector) collectPod(ch chan<- prometheus.Metric, p Pod) {
	var ss samples
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
		sendStats(ch, &ss, s, labels, false)
	}
	if hasNet {
		ch <- ss.next(descNetReceive, labels.extra, true, float64(net.RxBytes))
		ch <- ss.next(descNetTransmit, labels.extra, true, float64(net.TxBytes))
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
		sendStats(ch, &ss, s, labels, true)
		if !ctr.StartedAt.IsZero() {
			ch <- ss.next(descStartTime, labels.base, false, float64(ctr.StartedAt.UnixNano())/1e9)
		}
		if hasLayer {
			ch <- ss.next(descFSUsage, labels.extra, false, float64(layerBytes))
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

// sendStats maps one cgroup's Stats onto cAdvisor's series;
// container_processes only when processes is true.
func sendStats(ch chan<- prometheus.Metric, ss *samples, s cgroups.Stats, l *labelSet, processes bool) {
	if s.HasCPUUsage {
		ch <- ss.next(descCPUUsage, l.cpu, true, s.CPUUsage.Seconds())
	}
	if s.CPUQuota > 0 {
		ch <- ss.next(descCPUQuota, l.base, false, float64(s.CPUQuota))
		ch <- ss.next(descCPUPeriod, l.base, false, float64(s.CPUPeriod))
		ch <- ss.next(descCFSPeriods, l.base, true, float64(s.Periods))
		ch <- ss.next(descCFSThrottled, l.base, true, float64(s.ThrottledPeriods))
	}
	if s.HasMemory {
		ch <- ss.next(descMemUsage, l.base, false, float64(s.MemoryUsage))
		ch <- ss.next(descMemWorkingSet, l.base, false, float64(s.WorkingSet))
		ch <- ss.next(descMemRSS, l.base, false, float64(s.RSS))
		ch <- ss.next(descMemLimit, l.base, false, float64(s.MemoryLimit))
	}
	if s.HasOOMKills {
		ch <- ss.next(descOOMEvents, l.base, true, float64(s.OOMKills))
	}
	if processes {
		ch <- ss.next(descProcesses, l.base, false, float64(s.Processes))
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}
