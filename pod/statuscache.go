package pod

import (
	"context"
	"errors"
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

// watchMinBackoff and watchMaxBackoff bound the back-off, doubling, before
// a broken watch of a live infra is opened again. The first is short: an
// infra that exits closes its socket a moment before it is seen dead.
const (
	watchMinBackoff = 250 * time.Millisecond
	watchMaxBackoff = 30 * time.Second
)

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
		})
		m.mu.Lock()
		e.cached = nil
		m.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, infra.ErrUnsupported) {
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
