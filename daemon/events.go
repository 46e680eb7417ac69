package daemon

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifests"
)

// eventLog keeps the daemon's own most recent events in memory (like the
// kube-apiserver's event TTL, bounded by count instead of time; repeats
// folded into one with a count) and logs each as one line. Container events are kept by the infras instead, so
// that they outlive a daemon restart.
type eventLog struct {
	mu     sync.Mutex
	events []api.Event
	max    int
	log    *slog.Logger
	// count, when set, counts each event by type and reason (metrics);
	// set before the first event.
	count func(typ, reason string)
}

func newEventLog(max int, log *slog.Logger) *eventLog { return &eventLog{max: max, log: log} }

func (l *eventLog) add(e api.Event) {
	level := slog.LevelInfo
	if e.Type == api.EventWarning {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, "event", "reason", e.Reason, "object", e.Object, "container", e.Container, "message", e.Message)
	if l.count != nil {
		l.count(e.Type, e.Reason)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// A repeat (a create retried after the same failure) is folded into
	// the earlier event, as the infras fold theirs.
	e.FirstTime, e.Count = e.Time, 1
	for i, old := range l.events {
		if old.Type == e.Type && old.Reason == e.Reason && old.Object == e.Object && old.Container == e.Container && old.Message == e.Message {
			e.FirstTime, e.Count = old.FirstTime, old.Count+1
			l.events = append(l.events[:i], l.events[i+1:]...)
			break
		}
	}
	l.events = append(l.events, e)
	if len(l.events) > l.max {
		l.events = append(l.events[:0:0], l.events[len(l.events)-l.max:]...)
	}
}

// since returns the events after t, oldest first.
func (l *eventLog) since(t time.Time) []api.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return after(l.events, t)
}

// after returns the events of evs last seen after t.
func after(evs []api.Event, t time.Time) []api.Event {
	var out []api.Event
	for _, e := range evs {
		if e.Time.After(t) {
			out = append(out, e)
		}
	}
	return out
}

// mergeEvents puts the daemon's and the infras' events in one list, oldest
// first (by when each was last seen); ties keep the daemon's first.
func mergeEvents(own, infras []api.Event) []api.Event {
	out := append(append([]api.Event(nil), own...), infras...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// problemTracker remembers which manifest problems were already reported,
// so that a file that stops validating causes one FailedValidation event
// per problem, not one per reconcile pass. A problem that goes away and
// comes back is reported again.
type problemTracker struct {
	seen map[string]bool
}

// fresh returns the problems that refuse a document and were not present
// at the previous call, in the order given.
func (t *problemTracker) fresh(problems []manifests.Problem) []manifests.Problem {
	now := map[string]bool{}
	var out []manifests.Problem
	for _, p := range problems {
		if !p.Refuses() {
			continue
		}
		k := p.String()
		if !t.seen[k] && !now[k] {
			out = append(out, p)
		}
		now[k] = true
	}
	t.seen = now
	return out
}

// validationEvent is the event of one manifest problem; its object is the
// file, where `berth describe` of the file's pods finds it.
func validationEvent(p manifests.Problem, at time.Time) api.Event {
	return api.Event{
		Time: at, Type: api.EventWarning, Reason: api.EventFailedValidation,
		Object: p.File, Message: p.String(),
	}
}
