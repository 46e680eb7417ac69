package pod

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/crilog"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// TestDeadInfraIsMadeAgain kills a running pod's infra while the daemon
// runs. The end of its status watch asks for a pass; the pass's ListPods
// removes what is left of the pod and no longer lists it, so the
// reconciler creates it again, which restarts its containers after their
// last runs with the same UID. Under restartPolicy Never, a pod whose containers ran stays
// listed, Failed, holding nothing; one whose containers never ran is made
// again.
func TestDeadInfraIsMadeAgain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string
		ran    bool
		again  bool
	}{
		{"Always after a run", infra.RestartAlways, true, true},
		{"OnFailure after a run", infra.RestartOnFailure, true, true},
		{"Never after a run", infra.RestartNever, true, false},
		{"Never before any run", infra.RestartNever, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := newFakeHost(t.TempDir())
			cfg := h.config()
			var passes atomic.Int32
			cfg.InfraExited = func() { passes.Add(1) }
			var events []Event
			cfg.Event = func(e Event) { events = append(events, e) }
			m := NewManager(cfg)
			p := webPod(t)
			p.Spec.RestartPolicy = tc.policy
			if err := m.Apply(ctx, createAction(p)); err != nil {
				t.Fatal(err)
			}
			old := m.pods[podid.ID(p.Namespace, p.Name)]
			logFile := crilog.Path(old.layout.Logs, "web", 3)
			if tc.ran {
				if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(logFile, []byte("2026-01-01T00:00:00Z stdout F x\n"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			h.die(old.rec.InfraPID)
			testutil.WaitFor(t, 5*time.Second, "a pass asked for by the infra's death", func() bool { return passes.Load() > 0 })
			h.log()

			obs, err := m.ListPods(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if passes.Load() != 1 {
				t.Errorf("the infra's death asked for %d passes, want 1", passes.Load())
			}
			for _, op := range h.log() {
				if strings.HasPrefix(op, "infra ") {
					t.Errorf("the teardown of a dead pod talked to its infra: %s", op)
				}
			}
			if !hasEvent(events, kube.EventSandboxChanged) {
				t.Errorf("no %s event in %+v", kube.EventSandboxChanged, events)
			}
			// Only its logs stay, for the pod made again or the ended one.
			for _, l := range h.leftovers() {
				if !strings.HasPrefix(l, "file log/") {
					t.Errorf("the dead pod left %s", l)
				}
			}
			if listed := len(obs) == 1; listed == tc.again {
				t.Fatalf("after its infra died the pod is listed: %v, want %v", listed, !tc.again)
			}
			if !tc.again {
				pods := m.Pods(ctx)
				if len(pods) != 1 || pods[0].Phase != kube.PodFailed {
					t.Fatalf("the ended Never pod shows %+v, want Failed", pods)
				}
				c := pods[0].Containers[0]
				if c.State.Terminated == nil || c.State.Terminated.ExitCode != kube.ExitCodeUnknown || c.RestartCount != 3 {
					t.Errorf("its container shows %+v after %d restarts, want terminated, exit 255, 3 restarts", c.State, c.RestartCount)
				}
				if _, err := m.ExecTarget(ctx, p.Namespace, p.Name, "web"); err == nil {
					t.Errorf("exec into an ended pod found a target")
				}
				if obs, _ := m.ListPods(ctx); len(obs) != 1 || len(h.log()) > 0 {
					t.Errorf("a second pass changed the ended pod")
				}
				if err := m.Apply(ctx, deleteAction(p)); err != nil {
					t.Fatal(err)
				}
				checkEmpty(t, h)
				return
			}

			if err := m.Apply(ctx, createAction(p)); err != nil {
				t.Fatal(err)
			}
			e := m.pods[podid.ID(p.Namespace, p.Name)]
			if e.rec.UID != old.rec.UID {
				t.Errorf("the pod made again has uid %s, want its own %s", e.rec.UID, old.rec.UID)
			}
			h.mu.Lock()
			ctrs := h.procs[e.rec.InfraPID].ctrs
			h.mu.Unlock()
			for _, c := range ctrs {
				if c.Name != "web" {
					continue
				}
				if got := c.LastState != nil; got != tc.ran {
					t.Errorf("container web: last state %+v, want one: %v", c.LastState, tc.ran)
				} else if tc.ran && (c.RestartCount != 3 || c.LastState.ExitCode != kube.ExitCodeUnknown) {
					t.Errorf("container web starts at restart %d after %+v, want 3 after exit 255", c.RestartCount, c.LastState)
				}
			}
			if err := m.Apply(ctx, deleteAction(p)); err != nil {
				t.Fatal(err)
			}
			checkEmpty(t, h)
		})
	}
}

func hasEvent(events []Event, reason string) bool {
	for _, e := range events {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// TestRecoverRemovesLogsLeftByACrash: a daemon that dies between the
// teardown of a pod whose infra died (its logs kept for the pod made
// again) and that pod's create leaves a log directory no record names;
// the next daemon's Recover removes it, and keeps a live pod's.
func TestRecoverRemovesLogsLeftByACrash(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t.TempDir())
	crashed := newTestManager(h)
	dead, live := webPod(t), webPod(t)
	dead.Name = "dead"
	live.Spec.Containers[0].Ports = nil
	for _, p := range []*manifests.Pod{dead, live} {
		if err := crashed.Apply(ctx, createAction(p)); err != nil {
			t.Fatal(err)
		}
	}
	deadLogs := crashed.pods[podid.ID(dead.Namespace, dead.Name)].layout.Logs
	liveLogs := crashed.pods[podid.ID(live.Namespace, live.Name)].layout.Logs
	for _, d := range []string{deadLogs, liveLogs} {
		if err := os.MkdirAll(filepath.Join(d, "web"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.die(crashed.pods[podid.ID(dead.Namespace, dead.Name)].rec.InfraPID)
	if _, err := crashed.ListPods(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(deadLogs); err != nil {
		t.Fatalf("the dead pod's logs were not kept for the pod made again: %v", err)
	}

	m := newTestManager(h)
	if err := m.Recover(ctx); err != nil {
		t.Errorf("recover: %v", err)
	}
	if _, err := os.Stat(deadLogs); !os.IsNotExist(err) {
		t.Errorf("the logs no record names are still there: %v", err)
	}
	if _, err := os.Stat(liveLogs); err != nil {
		t.Errorf("the live pod's logs: %v", err)
	}
	if err := m.Apply(ctx, deleteAction(live)); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, h)
}

func TestIsPodLogDir(t *testing.T) {
	for name, want := range map[string]bool{
		"default_web_0b6e6a52-4c1f-4a8e-9d3a-2f1e5c7b9a10": true,
		"ns_a_b_0b6e6a52-4c1f-4a8e-9d3a-2f1e5c7b9a10":      true,
		"0b6e6a52-4c1f-4a8e-9d3a-2f1e5c7b9a10":             false,
		"default_web_0b6e6a52-4c1f-4a8e-9d3a-2f1e5c7b9a1":  false,
		"default_web_0b6e6a52x4c1f-4a8e-9d3a-2f1e5c7b9a10": false,
		"default_web_0B6E6A52-4C1F-4A8E-9D3A-2F1E5C7B9A10": false,
		"journal": false,
	} {
		if got := isPodLogDir(name); got != want {
			t.Errorf("isPodLogDir(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestDeadInfraTeardownRetried: a teardown of a dead infra's pod that
// fails keeps the pod listed (the reconciler makes nothing over it) and
// asks for another pass, which finishes it.
func TestDeadInfraTeardownRetried(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t.TempDir())
	cfg := h.config()
	pokes := make(chan struct{}, 8)
	cfg.InfraExited = func() { pokes <- struct{}{} }
	m := NewManager(cfg)
	p := webPod(t)
	if err := m.Apply(ctx, createAction(p)); err != nil {
		t.Fatal(err)
	}
	h.die(m.pods[podid.ID(p.Namespace, p.Name)].rec.InfraPID)
	<-pokes
	h.log()
	h.mu.Lock()
	h.failAt = 1
	h.mu.Unlock()
	if obs, _ := m.ListPods(ctx); len(obs) != 1 {
		t.Fatalf("after a failed teardown %d pods listed, want the dead one still", len(obs))
	}
	select {
	case <-pokes:
	case <-time.After(30 * time.Second):
		t.Fatal("a failed teardown asked for no other pass")
	}
	if obs, _ := m.ListPods(ctx); len(obs) != 0 {
		t.Fatalf("after the retried teardown %d pods listed, want none", len(obs))
	}
	for _, l := range h.leftovers() {
		if !strings.HasPrefix(l, "file log/") {
			t.Errorf("the dead pod left %s", l)
		}
	}
}

// TestDeadInfraStopsHooks: the hooks of a pod whose infra died stop with
// its teardown (their watch, the network namespace they dial from), also
// when the pod is kept, ended.
func TestDeadInfraStopsHooks(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t.TempDir())
	cfg := h.config()
	cfg.InfraExited = func() {}
	m := NewManager(cfg)
	p := webPod(t)
	p.Spec.RestartPolicy = infra.RestartNever
	p.Spec.Containers[0].Lifecycle = &manifests.Lifecycle{PostStart: &manifests.LifecycleHandler{Sleep: &manifests.SleepAction{}}}
	if err := m.Apply(ctx, createAction(p)); err != nil {
		t.Fatal(err)
	}
	old := m.pods[podid.ID(p.Namespace, p.Name)]
	if old.hooks == nil {
		t.Fatal("the pod's hooks did not start")
	}
	h.die(old.rec.InfraPID)
	if _, err := m.ListPods(ctx); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	left := old.hooks
	m.mu.Unlock()
	if left != nil {
		t.Error("the dead pod's hooks still run")
	}
}
