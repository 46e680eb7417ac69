package pod

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/berth-project/berth/infra"
)

// Every existing pod has one watch of its infra's status (infra's OpWatch,
// Infra.WatchStatus): one unix connection per pod, held as long as the
// pod exists. The infra pushes its status at once and again whenever
// anything in it but its events changes; the latest is kept in the pod's
// entry (entry.cached), and listings (Pods, Pod, and through them the
// API's views and the metrics) read it rather than asking every infra.
// The stream's end is also how the daemon learns at once of an infra's
// death: it asks for a reconcile pass (Config.InfraExited), whose
// ListPods checks every infra by PID and start time (the safety net, and
// what decides) and reapDead removes what is left. A broken stream whose
// infra is alive is opened again after a back-off. An infra too old to
// push every change (before infra.WatchAllVersion) is asked for its
// status at each listing, as before; one too old to watch at all
// (infra.ErrUnsupported) is watched for its exit with a pidfd instead.
//
// The watch is the pod's only one: the pod's other readers of its status,
// the prober and the hooker, follow it (followStatus, through the entry's
// statusFeed), so that the infra pushes each change once, on one
// connection, whoever reads it.

// watchMinBackoff and watchMaxBackoff bound the back-off, doubling, before
// a broken watch of a live infra is opened again. The first is short: an
// infra that exits closes its socket a moment before it is seen dead.
const (
	watchMinBackoff = 250 * time.Millisecond
	watchMaxBackoff = 30 * time.Second
)

// startReplyStatus is what a created pod's listings show until its watch's
// first push: the status the infra answered Start with, taken after the
// first runs were recorded. Without it, the listing that follows a create
// (apply's wait) would ask the infra while its containers start. A status
// the cache would not keep (infra.WatchAllVersion) is not used either.
func startReplyStatus(st infra.PodStatus) *infra.PodStatus {
	if st.Version < infra.WatchAllVersion {
		return nil
	}
	return &st
}

// watchInfra starts the status watch of e's infra; stopWatch ends it.
func (m *Manager) watchInfra(e *entry) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	m.mu.Lock()
	rec := e.rec
	e.unwatch = func() { cancel(); <-done }
	m.mu.Unlock()
	go func() {
		defer close(done)
		m.cacheStatus(ctx, e, rec)
	}()
}

// stopWatch ends the status watch of e, if it has one, and forgets its
// cached status: from then on a listing asks the infra.
func (m *Manager) stopWatch(e *entry) {
	m.mu.Lock()
	stop := e.unwatch
	e.unwatch = nil
	m.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// cacheStatus keeps e.cached the status rec's infra last pushed, until ctx
// ends or the infra is gone.
func (m *Manager) cacheStatus(ctx context.Context, e *entry, rec *record) {
	socket := e.layout.Socket()
	var backoff time.Duration
	for {
		err := m.cfg.Infra.WatchStatus(ctx, socket, func(st infra.PodStatus) {
			m.mu.Lock()
			if st.Version >= infra.WatchAllVersion && e.unwatch != nil {
				e.cached = &st
			}
			m.mu.Unlock()
			backoff = 0
			// Protocol 10's pushes miss changes the cache needs, but
			// not the runs' starts and ends its followers look for.
			e.feed.publish(st)
		})
		m.mu.Lock()
		e.cached = nil
		m.mu.Unlock()
		e.feed.broke()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, infra.ErrUnsupported) {
			e.feed.cannotWatch()
			if err := m.cfg.Processes.Watch(rec.InfraPID, rec.InfraStart, m.cfg.InfraExited); err != nil {
				m.cfg.Log.Warn("cannot watch the pod's infra; its death is seen at the next reconcile pass", "pod", key(rec.Pod), "pid", rec.InfraPID, "err", err)
			}
			return
		}
		// The stream ended: most likely the infra died. The pass
		// decides, by PID and start time.
		m.cfg.InfraExited()
		if !m.cfg.Processes.Alive(rec.InfraPID, rec.InfraStart) {
			return
		}
		backoff = min(max(2*backoff, watchMinBackoff), watchMaxBackoff)
		m.cfg.Log.Warn("status watch of the pod's infra broke; opening it again", "pod", key(rec.Pod), "pid", rec.InfraPID, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// statusFeed hands the statuses the pod's watch receives to its
// followers. The zero value is ready.
type statusFeed struct {
	mu        sync.Mutex
	seq       uint64
	last      *infra.PodStatus // the latest received; nil before the first and once the stream broke
	followers map[*follower]bool
	// unwatchable is closed once the infra answered that it cannot
	// watch (before protocol 10): followers ask it instead.
	unwatchable chan struct{}
	cannot      bool
}

// follower is one reader of a feed; its calls never overlap and never
// go back to an older status.
type follower struct {
	mu     sync.Mutex
	seq    uint64
	fn     func(infra.PodStatus)
	closed bool
}

func (f *follower) deliver(seq uint64, st infra.PodStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || seq <= f.seq {
		return
	}
	f.seq = seq
	f.fn(st)
}

// publish hands st to every follower.
func (f *statusFeed) publish(st infra.PodStatus) {
	f.mu.Lock()
	f.seq++
	seq := f.seq
	f.last = &st
	fs := make([]*follower, 0, len(f.followers))
	for fl := range f.followers {
		fs = append(fs, fl)
	}
	f.mu.Unlock()
	for _, fl := range fs {
		fl.deliver(seq, st)
	}
}

// broke forgets the latest status: the stream that brought it ended.
func (f *statusFeed) broke() {
	f.mu.Lock()
	f.last = nil
	f.mu.Unlock()
}

// cannotWatch says the infra cannot watch.
func (f *statusFeed) cannotWatch() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.cannot {
		f.cannot = true
		close(f.unwatchableLocked())
	}
}

func (f *statusFeed) unwatchableLocked() chan struct{} {
	if f.unwatchable == nil {
		f.unwatchable = make(chan struct{})
	}
	return f.unwatchable
}

// follow calls fn with the latest status, if any, and then with every
// status published, until the returned stop, which waits for a call under
// way. unwatchable is closed when the infra cannot watch.
func (f *statusFeed) follow(fn func(infra.PodStatus)) (stop func(), unwatchable <-chan struct{}) {
	fl := &follower{fn: fn}
	f.mu.Lock()
	if f.followers == nil {
		f.followers = map[*follower]bool{}
	}
	f.followers[fl] = true
	last, seq := f.last, f.seq
	unwatchable = f.unwatchableLocked()
	f.mu.Unlock()
	if last != nil {
		fl.deliver(seq, *last)
	}
	return func() {
		f.mu.Lock()
		delete(f.followers, fl)
		f.mu.Unlock()
		fl.mu.Lock()
		fl.closed = true
		fl.mu.Unlock()
	}, unwatchable
}

// followStatus calls fn with the status of e's pod as its watch receives
// it (the latest at once), until ctx ends: the pod's one stream, shared.
// An infra that cannot watch (before protocol 10) is asked for its status
// every probePoll instead.
func (m *Manager) followStatus(ctx context.Context, e *entry, fn func(infra.PodStatus)) {
	stop, unwatchable := e.feed.follow(fn)
	defer stop()
	select {
	case <-ctx.Done():
		return
	case <-unwatchable:
	}
	m.pollStatus(ctx, e.layout.Socket(), fn)
}

// pollStatus asks the infra listening on socket for its status every
// probePoll and calls fn with each answer, until ctx ends.
func (m *Manager) pollStatus(ctx context.Context, socket string, fn func(infra.PodStatus)) {
	t := time.NewTicker(probePoll)
	defer t.Stop()
	for {
		if st, err := m.cfg.Infra.Status(ctx, socket); err == nil {
			fn(st)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
