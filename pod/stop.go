package pod

import (
	"context"
	"errors"
	"sync"

	"github.com/berth-project/berth/reconciler"
)

// StopAll removes every pod, in the waves reconciler.StopOrder plans: a
// pod that waits for others (berth.io/after) goes before them. The pods of
// a wave are removed in parallel, each with its grace period; the next
// wave starts when the wave is gone. The daemon calls it when it is asked
// to stop with --stop-pods-on-exit.
func (m *Manager) StopAll(ctx context.Context) error {
	obs, err := m.ListPods(ctx)
	if err != nil {
		return err
	}
	byKey := make(map[reconciler.PodKey]reconciler.Observed, len(obs))
	for _, o := range obs {
		byKey[o.Key] = o
	}
	var errs []error
	for i, wave := range reconciler.StopOrder(obs) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, k := range wave {
			o := byKey[k]
			wg.Go(func() {
				err := m.remove(ctx, &o)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				m.cfg.Log.Info("pod stopped", "pod", k.String(), "wave", i, "err", err)
			})
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}
