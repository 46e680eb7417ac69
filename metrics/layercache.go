package metrics

import (
	"sync"
	"time"
)

// layerUsageAge is how long a writable layer's measured disk use is
// reported before it is measured again. cAdvisor too walks containers'
// file systems in the background every minute or so rather than at each
// scrape: a walk of a layer costs far more than its cgroup's files.
const layerUsageAge = time.Minute

// layerCache is layerUsage by layer directory, each kept layerUsageAge.
// Safe for concurrent use: the workers of one scrape, or two scrapes.
type layerCache struct {
	mu      sync.Mutex
	samples map[string]layerSample
	now     func() time.Time // time.Now unless a test sets it
}

type layerSample struct {
	bytes  uint64
	device string
	err    error
	at     time.Time
}

// usage is layerUsage(dir), measured again once its sample is older than
// layerUsageAge.
func (c *layerCache) usage(dir string) (uint64, string, error) {
	now := c.clock()
	c.mu.Lock()
	s, ok := c.samples[dir]
	c.mu.Unlock()
	if ok && now.Sub(s.at) < layerUsageAge {
		return s.bytes, s.device, s.err
	}
	s.bytes, s.device, s.err = layerUsage(dir)
	s.at = now
	c.mu.Lock()
	if c.samples == nil {
		c.samples = map[string]layerSample{}
	}
	c.samples[dir] = s
	c.mu.Unlock()
	return s.bytes, s.device, s.err
}

// keepOnly forgets the layers no container of pods has any more.
func (c *layerCache) keepOnly(pods []Pod) {
	live := map[string]bool{}
	for _, p := range pods {
		for _, ctr := range p.Containers {
			live[ctr.Layer] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for dir := range c.samples {
		if !live[dir] {
			delete(c.samples, dir)
		}
	}
}

func (c *layerCache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
