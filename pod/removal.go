package pod

import (
	"context"
	"sync"
	"time"

	"github.com/berth-project/berth/kube"
)

// A removal whose teardown fails leaves its pod listed as terminating, so
// that the reconciler neither deletes it again nor makes its successor
// while part of it is still on the host: the kubelet, too, keeps a pod
// that failed to terminate until it has. Its teardown is tried again at a
// pass (ListPods) once a back-off has passed (1 s, doubling up to a
// minute; the pass comes by itself then), without a grace period, which
// the first try gave, until it succeeds. Then the pod is gone and its
// successor, if a manifest asks for one, is made in the same pass.

// removalFailed schedules the next try of e's teardown and returns how
// far off it is.
func (m *Manager) removalFailed(e *entry) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.removeRetry = m.retryTeardown(e.removeRetry)
	e.removeAt = time.Now().Add(e.removeRetry)
	return e.removeRetry
}

// retryTeardown returns the back-off before a failed teardown is tried
// again, after one of prev (1 s, doubling up to a minute), and asks for a
// pass once it has passed: a dead infra's (infradeath.go) and a failed
// removal's.
func (m *Manager) retryTeardown(prev time.Duration) time.Duration {
	d := min(max(2*prev, time.Second), time.Minute)
	time.AfterFunc(d, m.cfg.InfraExited)
	return d
}

// retryRemovals tears down again every pod whose removal failed and whose
// back-off has passed, in parallel, and forgets those it could.
func (m *Manager) retryRemovals(ctx context.Context) {
	now := time.Now()
	m.mu.Lock()
	due := map[string]*entry{}
	for id, e := range m.pods {
		if e.removeRetry > 0 && !e.removing && !now.Before(e.removeAt) {
			e.removing = true
			due[id] = e
		}
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for id, e := range due {
		wg.Go(func() {
			err := m.teardown(ctx, id, e.rec, e.layout, 0)
			m.mu.Lock()
			e.removing = false
			if err == nil && m.pods[id] == e {
				delete(m.pods, id)
			}
			m.mu.Unlock()
			if err != nil {
				m.cfg.Log.Error("remove pod", "pod", key(e.rec.Pod), "err", err, "retry_in", m.removalFailed(e))
				return
			}
			m.event(e.rec.Pod, "", kube.EventNormal, kube.EventDeleted, "Pod removed")
		})
	}
	wg.Wait()
}
