package pod

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
)

// step is one part of a pod's creation, and read backwards, of its
// teardown: do makes something, undo removes it. A pod's creation is a
// list of steps (Manager.createSteps); its teardown is the same list's
// undos in reverse order.
//
// An undo is idempotent and needs no more than what the pod's record and
// layout say: it runs after its do failed half-way, after a do that never
// ran in this process (a teardown after a daemon restart) and after one
// that ran to the end.
type step struct {
	name string
	// phase is the part of the "pod created" line the step's time counts
	// towards. A phase ends after its last step in a row; the time of a
	// step without phase counts towards the next phase that ends.
	phase string
	do    func(ctx context.Context) error
	undo  func(ctx context.Context) error
	// details, when set, breaks the step's phase down (logged before the
	// phase itself); it is asked once do succeeded.
	details func() []slog.Attr
	// lanes, instead of do and undo, are step lists that run at the same
	// time, the first on the caller's goroutine and each other on its own.
	// The step ends when every lane has ended, and fails with all the
	// lanes' errors; a lane stops at its first failure. Only the first
	// lane's phases are timed.
	lanes [][]step
}

// runner runs a pod's steps, times their phases and, when one fails,
// undoes every step begun, the failed one included, last in the list
// first: the teardown's order (undoAll), whichever of two lanes began
// first.
// Like a cleanup stack, it keeps the undos of what ran until the caller
// decides: rollback after a failure; nothing after success, because what
// was made now belongs to the pod.
type runner struct {
	timer *phaseTimer
	mu    sync.Mutex
	begun []begunStep
}

// begunStep is a step that began, and its place in the flattened list.
type begunStep struct {
	pos int
	step
}

// newRunner returns a runner that marks phases on t (nil: untimed).
func newRunner(t *phaseTimer) *runner { return &runner{timer: t} }

// run runs steps in order and returns the first failure.
func (r *runner) run(ctx context.Context, steps []step) error {
	return r.sequence(ctx, steps, r.timer, 0)
}

// sequence runs steps in order, the first at position pos of the
// flattened list.
func (r *runner) sequence(ctx context.Context, steps []step, t *phaseTimer, pos int) error {
	for i, s := range steps {
		var err error
		if s.lanes != nil {
			err = r.together(ctx, s.lanes, t, pos)
			pos += count(s.lanes...)
		} else {
			r.mu.Lock()
			r.begun = append(r.begun, begunStep{pos, s})
			r.mu.Unlock()
			pos++
			err = s.do(ctx)
		}
		if err != nil {
			return err
		}
		if t == nil || s.phase == "" {
			continue
		}
		if s.details != nil {
			t.attrs = append(t.attrs, s.details()...)
		}
		if i == len(steps)-1 || steps[i+1].phase != s.phase {
			t.mark(s.phase)
		}
	}
	return nil
}

// together runs lanes at the same time and waits for all of them; the
// first lane's first step is at position pos of the flattened list, the
// others follow in order.
func (r *runner) together(ctx context.Context, lanes [][]step, t *phaseTimer, pos int) error {
	errs := make([]error, len(lanes))
	var wg sync.WaitGroup
	next := pos + count(lanes[0])
	for i := 1; i < len(lanes); i++ {
		wg.Add(1)
		go func(pos int) {
			defer wg.Done()
			errs[i] = r.sequence(ctx, lanes[i], nil, pos)
		}(next)
		next += count(lanes[i])
	}
	errs[0] = r.sequence(ctx, lanes[0], t, pos)
	wg.Wait()
	return errors.Join(errs...)
}

// rollback undoes every step begun, last in the list first, and forgets
// them. It runs every undo even when one fails, and returns their errors.
func (r *runner) rollback(ctx context.Context) error {
	r.mu.Lock()
	begun := r.begun
	r.begun = nil
	r.mu.Unlock()
	slices.SortFunc(begun, func(a, b begunStep) int { return a.pos - b.pos })
	steps := make([]step, len(begun))
	for i, b := range begun {
		steps[i] = b.step
	}
	return undo(ctx, steps)
}

// undoAll undoes every step of steps (lanes included), last first,
// whether or not it ran: it removes whatever of them a pod holds.
func undoAll(ctx context.Context, steps []step) error {
	return undo(ctx, flatten(steps))
}

func undo(ctx context.Context, steps []step) error {
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if u := steps[i].undo; u != nil {
			errs = append(errs, u(ctx))
		}
	}
	return errors.Join(errs...)
}

// count is how many steps the lists hold, the lanes' included: their
// length once flattened.
func count(lists ...[]step) int {
	n := 0
	for _, l := range lists {
		for _, s := range l {
			if s.lanes == nil {
				n++
			} else {
				n += count(s.lanes...)
			}
		}
	}
	return n
}

// flatten lists steps in the order they begin, a group's lanes one after
// the other.
func flatten(steps []step) []step {
	var out []step
	for _, s := range steps {
		if s.lanes == nil {
			out = append(out, s)
			continue
		}
		for _, l := range s.lanes {
			out = append(out, flatten(l)...)
		}
	}
	return out
}
