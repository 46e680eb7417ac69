package pod

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/probe"
)

// killRecorder is an Infra whose KillContainer records its calls (the
// other methods are not used by a prober's reports).
type killRecorder struct {
	Infra
	kills chan string
	err   error
}

func (k *killRecorder) KillContainer(_ context.Context, socket, ctr string, grace time.Duration, msg string) error {
	k.kills <- fmt.Sprintf("%s %s %s %s", socket, ctr, grace, msg)
	return k.err
}

// TestProberReports: reports set started and ready as the kubelet's
// probe results do, become events, and a liveness or startup failure asks
// the infra to kill the container with the probe's grace period or the
// pod's; an infra too old for that leaves the pod running.
func TestProberReports(t *testing.T) {
	grace := int64(7)
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	p.Spec.TerminationGracePeriodSeconds = &grace
	for _, old := range []bool{false, true} {
		k := &killRecorder{kills: make(chan string, 1)}
		if old {
			k.err = fmt.Errorf("kill: %w", infra.ErrUnsupported)
		}
		var events []Event
		m := NewManager(Config{Infra: k, Event: func(e Event) { events = append(events, e) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		pr := &prober{m: m, pod: p, socket: "/s"}
		run := time.Now()
		pc := &probed{hasStartup: true, hasReadiness: true, status: probeStatus{run: run}}

		steps := []struct {
			rep            probe.Report
			started, ready bool
		}{
			{probe.Report{Container: "app", Type: probe.Startup, Result: probe.Unknown, Event: &probe.Event{Reason: probe.ReasonUnhealthy, Message: "Startup probe failed: x"}}, false, false},
			{probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Success}, false, false},
			{probe.Report{Container: "app", Type: probe.Startup, Result: probe.Success, Changed: true}, true, false},
			{probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Success, Changed: true}, true, true},
			{probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Failure, Changed: true}, true, false},
		}
		for i, s := range steps {
			pr.report(pc, s.rep)
			if pc.status.started != s.started || pc.status.ready != s.ready {
				t.Errorf("step %d: started %v ready %v, want %v %v", i, pc.status.started, pc.status.ready, s.started, s.ready)
			}
		}
		if len(events) != 1 || events[0].Reason != probe.ReasonUnhealthy || events[0].Type != kube.EventWarning || events[0].Container != "app" {
			t.Errorf("events = %+v, want one Unhealthy warning for app", events)
		}

		pr.report(pc, probe.Report{Container: "app", Type: probe.Liveness, Result: probe.Failure, Changed: true})
		if got, want := <-k.kills, "/s app 7s Container app failed liveness probe, will be restarted"; got != want {
			t.Errorf("kill = %q, want %q", got, want)
		}
		probeGrace := int64(2)
		pr.report(pc, probe.Report{Container: "app", Type: probe.Startup, Result: probe.Failure, Changed: true, GracePeriodSeconds: &probeGrace})
		if got, want := <-k.kills, "/s app 2s Container app failed startup probe, will be restarted"; got != want {
			t.Errorf("kill = %q, want %q", got, want)
		}
	}
}

// TestProberCountsRuns: every probe run reaches Config.ProbeRun with its
// own result, before thresholds; a report that is no run does not.
func TestProberCountsRuns(t *testing.T) {
	p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
	var runs []ProbeRun
	m := NewManager(Config{ProbeRun: func(r ProbeRun) { runs = append(runs, r) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	pr := &prober{m: m, pod: p, uid: "u1", socket: "/s"}
	pc := &probed{status: probeStatus{run: time.Now()}}
	pr.report(pc, probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Success, Ran: true, RunResult: probe.Failure})
	pr.report(pc, probe.Report{Container: "app", Type: probe.Readiness, Result: probe.Failure, Changed: true})
	want := []ProbeRun{{Namespace: "default", Name: "web", UID: "u1", Container: "app", Type: probe.Readiness, Result: probe.Failure}}
	if len(runs) != 1 || runs[0] != want[0] {
		t.Errorf("probe runs %+v, want %+v", runs, want)
	}
}
