package pod

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/reconciler"
)

// TestRemovalFailingAtEachOperation fails each host operation of a
// removal in turn. Unless the teardown works around the failure, the
// removal fails and the pod stays listed as terminating (the reconciler
// waits for it instead of making its successor), a pass within the
// back-off leaves it be, and a pass after it tears the pod down again,
// without a grace period, in teardown order. A retry that fails too backs
// off twice as long; the next one leaves the host empty.
func TestRemovalFailingAtEachOperation(t *testing.T) {
	for k := 1; k <= len(goldenTeardown); k++ {
		t.Run(goldenTeardown[k-1], func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			m := newTestManager(h)
			p := webPod(t)
			ctx := context.Background()
			if err := m.Apply(ctx, createAction(p)); err != nil {
				t.Fatal(err)
			}
			h.log()
			list := func() []reconciler.Observed {
				t.Helper()
				obs, err := m.ListPods(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return obs
			}
			h.failAt = k
			err := m.Apply(ctx, deleteAction(p))
			if err == nil {
				// The teardown works around this failure: a stop or
				// shutdown that fails ends in the infra's kill.
				if obs := list(); len(obs) != 0 {
					t.Errorf("listed after the removal: %+v, want none", obs)
				}
				checkEmpty(t, h)
				return
			}
			if !strings.Contains(err.Error(), goldenTeardown[k-1]+" failed") {
				t.Fatalf("removal: %v, want the failure of %q", err, goldenTeardown[k-1])
			}
			h.log()
			e := m.pods[podid.ID(p.Namespace, p.Name)]
			backOffPassed := func() {
				m.mu.Lock()
				e.removeAt = time.Now()
				m.mu.Unlock()
			}
			if obs := list(); len(obs) != 1 || !obs[0].Terminating {
				t.Fatalf("listed after the failed removal: %+v, want the pod, terminating", obs)
			}
			if ops := h.log(); len(ops) > 0 {
				t.Errorf("a pass within the back-off did %q", ops)
			}

			backOffPassed()
			h.failAt = 1
			if obs := list(); len(obs) != 1 || !obs[0].Terminating {
				t.Fatalf("listed after a failed retry: %+v, want the pod, terminating", obs)
			}
			h.log()
			if e.removeRetry != 2*time.Second {
				t.Errorf("back-off after the second failure %s, want 2s", e.removeRetry)
			}

			backOffPassed()
			if obs := list(); len(obs) != 0 {
				t.Errorf("listed after the retry: %+v, want none", obs)
			}
			ops := h.log()
			if !isSubsequence(withoutGrace(ops), withoutGrace(undoOrder)) {
				t.Errorf("the retry did\n  %s\nnot in teardown order", strings.Join(ops, "\n  "))
			}
			if i := slices.IndexFunc(ops, func(op string) bool { return strings.HasPrefix(op, "infra stop") }); i >= 0 && !strings.HasSuffix(ops[i], "grace=0s") {
				t.Errorf("the retry stopped the containers with %q, want no grace period", ops[i])
			}
			checkEmpty(t, h)
		})
	}
}
