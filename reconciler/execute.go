package reconciler

import (
	"context"
	"sync"
)

// execute applies actions: all Delete actions first, then the others.
// Within each phase, pods are worked on concurrently (at most parallel at
// a time) and the actions of one pod run in order; after a failure, the
// pod's remaining actions in this pass are skipped.
func execute(ctx context.Context, rt Runtime, actions []Action, parallel int) Result {
	var (
		mu     sync.Mutex
		res    Result
		failed = map[PodKey]bool{}
	)
	record := func(a Action, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed[a.Key] = true
			res.Failed = append(res.Failed, Failure{Action: a, Err: err})
			return
		}
		res.Done = append(res.Done, a)
	}
	isFailed := func(k PodKey) bool {
		mu.Lock()
		defer mu.Unlock()
		return failed[k]
	}

	var deletes, others []Action
	for _, a := range actions {
		if a.Kind == Delete {
			deletes = append(deletes, a)
		} else {
			others = append(others, a)
		}
	}
	for _, phase := range [][]Action{deletes, others} {
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for _, group := range byPod(phase) {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				for _, a := range group {
					if isFailed(a.Key) {
						record(a, ErrSkipped)
						continue
					}
					record(a, apply(ctx, rt, a))
				}
			})
		}
		wg.Wait()
	}
	return res
}

// apply runs one action unless the pass was cancelled. Errors are
// returned as they are: Failure names the action.
func apply(ctx context.Context, rt Runtime, a Action) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return rt.Apply(ctx, a)
}

// byPod groups actions by pod key, keeping their order.
func byPod(actions []Action) [][]Action {
	idx := map[PodKey]int{}
	var groups [][]Action
	for _, a := range actions {
		i, ok := idx[a.Key]
		if !ok {
			i = len(groups)
			idx[a.Key] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], a)
	}
	return groups
}
