package metrics

import (
	"slices"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
)

// labelCache keeps the label pairs of each cgroup's series from one
// scrape to the next: they change only with the container (its image,
// say); built anew for every series (as client_golang's const metrics
// do), they were about a quarter of a scrape's allocations. A set is keyed
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
		s.base = append(s.base, &dto.LabelPair{Name: &containerLabels[i], Value: validUTF8(s.key.values[i])})
	}
	sortPairs(s.base)
	with := func(name, value string) []*dto.LabelPair {
		out := append(slices.Clip(s.base), &dto.LabelPair{Name: &name, Value: validUTF8(value)})
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

// labelPairs builds the label pairs of names and values, alternating.
func labelPairs(nameValues ...string) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(nameValues)/2)
	for i := 0; i+1 < len(nameValues); i += 2 {
		out = append(out, &dto.LabelPair{Name: &nameValues[i], Value: validUTF8(nameValues[i+1])})
	}
	sortPairs(out)
	return out
}

// validUTF8 is a label value as the text format can carry it: names are
// validated before they reach here, but the registry would have refused
// a series with a value that is not UTF-8, and this package skips it.
func validUTF8(v string) *string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	return &v
}

// point is one series of a scrape.
type point struct {
	fam family
	m   *dto.Metric
}

// points are series of a scrape, their dto values from an arena.
type points struct {
	list  []point
	arena *arena
}

// pointsPerPod is about the series of a pod of one container.
const pointsPerPod = 32

func (p *points) add(f family, labels []*dto.LabelPair, v float64) {
	if p.list == nil {
		p.list = make([]point, 0, pointsPerPod)
	}
	p.list = append(p.list, point{fam: f, m: p.arena.metric(f, labels, v)})
}

// arena hands out the dto values of series a batch at a time rather than
// one by one. One goroutine's.
type arena struct {
	gauges   []gaugeCell
	counters []counterCell
}

// arenaBatch is how many series' values an arena allocates at once.
const arenaBatch = 128

// gaugeCell and counterCell are the dto values of one series.
type gaugeCell struct {
	m dto.Metric
	g dto.Gauge
	v float64
}

type counterCell struct {
	m dto.Metric
	c dto.Counter
	v float64
}

// metric returns a series of family f. The values handed out stay where
// they are: a new batch is a new slice.
func (a *arena) metric(f family, labels []*dto.LabelPair, v float64) *dto.Metric {
	if families[f].typ == &typeCounter {
		if len(a.counters) == cap(a.counters) {
			a.counters = make([]counterCell, 0, arenaBatch)
		}
		a.counters = a.counters[:len(a.counters)+1]
		c := &a.counters[len(a.counters)-1]
		c.v, c.c.Value, c.m.Counter, c.m.Label = v, &c.v, &c.c, labels
		return &c.m
	}
	if len(a.gauges) == cap(a.gauges) {
		a.gauges = make([]gaugeCell, 0, arenaBatch)
	}
	a.gauges = a.gauges[:len(a.gauges)+1]
	c := &a.gauges[len(a.gauges)-1]
	c.v, c.g.Value, c.m.Gauge, c.m.Label = v, &c.v, &c.g, labels
	return &c.m
}

// familiesOf gathers the series of all into their families, each
// family's in the order of all; a family without series is left out.
func familiesOf(all ...points) []*dto.MetricFamily {
	var count [numFamilies]int
	for _, p := range all {
		for _, pt := range p.list {
			count[pt.fam]++
		}
	}
	var byFamily [numFamilies]*dto.MetricFamily
	var out []*dto.MetricFamily
	for f, n := range count {
		if n == 0 {
			continue
		}
		d := &families[f]
		byFamily[f] = &dto.MetricFamily{Name: &d.name, Help: &d.help, Type: d.typ, Metric: make([]*dto.Metric, 0, n)}
		out = append(out, byFamily[f])
	}
	for _, p := range all {
		for _, pt := range p.list {
			mf := byFamily[pt.fam]
			mf.Metric = append(mf.Metric, pt.m)
		}
	}
	return out
}
