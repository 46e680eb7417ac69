package probe

import (
	"container/heap"
	"sync"
	"time"
)

// wakeGrid is the one timer of every Runner on the SystemClock: each
// waits for a tick of the grids SystemClock.Round gives (its slot), and
// at a tick the grid polls, on the timer's goroutine, every runner
// waiting for it. So the probes due at one tick cost the daemon one
// wake-up, whatever the number of runners.
type wakeGrid struct {
	mu sync.Mutex
	// slots holds the runners by the tick (UnixNano) they asked for; a
	// runner whose slot has changed since is skipped there.
	slots map[int64][]*Runner
	ticks tickHeap
	timer *time.Timer
	// armed is the tick the timer is set for; zero when it is not set.
	armed int64
}

var grid = wakeGrid{slots: map[int64][]*Runner{}}

// at makes r wait for the tick at, in place of what it waited for.
func (g *wakeGrid) at(r *Runner, at time.Time) {
	tick := at.UnixNano()
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.slot == tick {
		return
	}
	r.slot = tick
	if _, ok := g.slots[tick]; !ok {
		heap.Push(&g.ticks, tick)
	}
	g.slots[tick] = append(g.slots[tick], r)
	if g.armed == 0 || tick < g.armed {
		g.arm(tick)
	}
}

// cancel makes r wait for no tick.
func (g *wakeGrid) cancel(r *Runner) {
	g.mu.Lock()
	r.slot = 0
	g.mu.Unlock()
}

// arm sets the timer for tick; g.mu is held.
func (g *wakeGrid) arm(tick int64) {
	g.armed = tick
	d := time.Until(time.Unix(0, tick))
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.fire)
		return
	}
	g.timer.Reset(d)
}

// fire polls the runners of every tick that has come, each at its tick
// (the timer's lateness does not shift their schedules), and sets the
// timer for the next.
func (g *wakeGrid) fire() {
	now := time.Now().UnixNano()
	type polled struct {
		r    *Runner
		tick int64
	}
	var due []polled
	g.mu.Lock()
	for len(g.ticks) > 0 && g.ticks[0] <= now {
		tick := heap.Pop(&g.ticks).(int64)
		for _, r := range g.slots[tick] {
			if r.slot == tick {
				r.slot = 0
				due = append(due, polled{r, tick})
			}
		}
		delete(g.slots, tick)
	}
	g.armed = 0
	if len(g.ticks) > 0 {
		g.arm(g.ticks[0])
	}
	g.mu.Unlock()
	for _, p := range due {
		p.r.poll(time.Unix(0, p.tick))
	}
}

// tickHeap is a min-heap of ticks.
type tickHeap []int64

func (h tickHeap) Len() int           { return len(h) }
func (h tickHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h tickHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *tickHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *tickHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
