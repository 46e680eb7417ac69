package infra

import "time"

// MaxEvents bounds the infra's event ring: the infra is paid for once per
// pod, so a crash-looping container must not grow it.
const MaxEvents = 50

// Event is something that happened to one of the pod's containers. Repeats
// of the same event are folded into one with a Count, as the kube-apiserver
// aggregates them, so that a crash loop keeps its older history in the ring.
type Event struct {
	// FirstTime is when the event was first seen, Time when last seen.
	FirstTime time.Time `json:"firstTime"`
	Time      time.Time `json:"time"`
	Count     int       `json:"count"`
	Type      string    `json:"type"`
	Reason    string    `json:"reason"`
	Container string    `json:"container,omitempty"`
	Message   string    `json:"message"`
}

// eventRing holds the most recent MaxEvents distinct events, oldest first.
// It lives on the supervisor loop, so it has no lock.
type eventRing struct {
	events []Event
}

// add records e at time now: a repeat of an event already held (same type,
// reason, container and message) is moved to the end with its count
// raised; otherwise e is appended and the oldest event dropped when full.
func (r *eventRing) add(e Event, now time.Time) {
	e.Time = now
	e.FirstTime, e.Count = now, 1
	for i, old := range r.events {
		if old.Type == e.Type && old.Reason == e.Reason && old.Container == e.Container && old.Message == e.Message {
			e.FirstTime, e.Count = old.FirstTime, old.Count+1
			r.events = append(r.events[:i], r.events[i+1:]...)
			break
		}
	}
	if len(r.events) >= MaxEvents {
		r.events = append(r.events[:0], r.events[len(r.events)-MaxEvents+1:]...)
	}
	r.events = append(r.events, e)
}

// list returns a copy, oldest first.
func (r *eventRing) list() []Event {
	return append([]Event(nil), r.events...)
}
