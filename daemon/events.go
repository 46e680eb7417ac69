package daemon

import (
	"sync"
	"time"

	"github.com/berth-project/berth/api"
)

// eventLog keeps the most recent events in memory (like the kube-apiserver's
// event TTL, bounded by count instead of time).
type eventLog struct {
	mu     sync.Mutex
	events []api.Event
	max    int
}

func newEventLog(max int) *eventLog { return &eventLog{max: max} }

func (l *eventLog) add(e api.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	if len(l.events) > l.max {
		l.events = append(l.events[:0:0], l.events[len(l.events)-l.max:]...)
	}
}

// since returns the events after t, oldest first.
func (l *eventLog) since(t time.Time) []api.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []api.Event
	for _, e := range l.events {
		if e.Time.After(t) {
			out = append(out, e)
		}
	}
	return out
}
