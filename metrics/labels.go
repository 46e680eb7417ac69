package metrics

import (
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// labelCache keeps the label pairs of each cgroup's series from one
// scrape to the next: they change only with the container (its image,
// say), while client_golang's MustNewConstMetric builds every series'
// pairs anew, about a quarter of a scrape's allocations. A set is keyed
// by its cgroup (cAdvisor's id label) and dropped by keepOnly once no pod
// of a scrape has that cgroup. Safe for concurrent use: the workers of
// one scrape, or two scrapes.
type labelCache struct {
	mu   sync.Mutex
	sets map[string]*labelSet
}

// labelKey is what a labelSet is built from: cAdvisor's label values in
// containerLabels' order, and the one further label of some of the
// cgroup's series (the interface of a pod's network series, the device
// of a container's writable layer) with its value.
type labelKey struct {
	values                [5]string
	extraName, extraValue string
}

// labelSet is the label pairs of one cgroup's series, sorted by name as
// the registry wants them. Never changed once built: two scrapes may
// read it at once.
type labelSet struct {
	key labelKey
	// base is cAdvisor's labels; cpu adds cpu="total"; extra adds
	// key.extraName (nil without one).
	base, cpu, extra []*dto.LabelPair
}

// get returns the labelSet of key, built anew if its cgroup has none yet
// or had other labels.
func (c *labelCache) get(key labelKey) *labelSet {
	id := key.values[1]
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sets[id]; s != nil && s.key == key {
		return s
	}
	s := newLabelSet(key)
	if c.sets == nil {
		c.sets = map[string]*labelSet{}
	}
	c.sets[id] = s
	return s
}

// keepOnly forgets the cgroups no pod of pods has any more.
func (c *labelCache) keepOnly(pods []Pod) {
	live := map[string]bool{}
	for _, p := range pods {
		live[p.Cgroup.Path] = true
		for _, ctr := range p.Containers {
			live[ctr.Cgroup.Path] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.sets {
		if !live[id] {
			delete(c.sets, id)
		}
	}
}

// len is how many cgroups have label sets.
func (c *labelCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sets)
}

func newLabelSet(key labelKey) *labelSet {
	s := &labelSet{key: key}
	for i := range containerLabels {
		s.base = append(s.base, &dto.LabelPair{Name: &containerLabels[i], Value: &s.key.values[i]})
	}
	sortPairs(s.base)
	with := func(name, value string) []*dto.LabelPair {
		out := append(slices.Clip(s.base), &dto.LabelPair{Name: &name, Value: &value})
		sortPairs(out)
		return out
	}
	s.cpu = with("cpu", "total")
	if key.extraName != "" {
		s.extra = with(key.extraName, key.extraValue)
	}
	return s
}

func sortPairs(pairs []*dto.LabelPair) {
	slices.SortFunc(pairs, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
}

// sample is one value of a series whose label pairs a labelSet holds: a
// prometheus.Metric that, unlike a const metric, builds no label pairs.
type sample struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	counter bool
	value   float64
}

func (s *sample) Desc() *prometheus.Desc { return s.desc }

func (s *sample) Write(out *dto.Metric) error {
	out.Label = s.labels
	if s.counter {
		out.Counter = &dto.Counter{Value: &s.value}
	} else {
		out.Gauge = &dto.Gauge{Value: &s.value}
	}
	return nil
}

// samples hands out the samples of one pod from a few allocations rather
// than one per series.
type samples []sample

// samplesPerPod is about the series of a pod of one container.
const samplesPerPod = 32

func (ss *samples) next(d *prometheus.Desc, labels []*dto.LabelPair, counter bool, v float64) *sample {
	if len(*ss) == cap(*ss) {
		*ss = make(samples, 0, samplesPerPod) // the samples handed out stay where they are
	}
	*ss = append(*ss, sample{desc: d, labels: labels, counter: counter, value: v})
	return &(*ss)[len(*ss)-1]
}
