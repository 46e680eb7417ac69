package pod

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/kube"
)

// phaseTimer records how long each step of a pod's creation took and logs
// them as one line when the pod runs (bench/ and users read these to see
// where start time goes). Phases follow each other and add up to total;
// details break a phase down.
type phaseTimer struct {
	log   *slog.Logger
	pod   string
	start time.Time
	last  time.Time
	attrs []slog.Attr
	total time.Duration
}

func newPhaseTimer(log *slog.Logger, pod string) *phaseTimer {
	now := time.Now()
	return &phaseTimer{log: log, pod: pod, start: now, last: now}
}

// seen moves the start back to when the reconcile pass that found the pod
// began reading the manifest directory: the phases "parse" (reading and
// validating the directory) and "queue" (planning, and waiting for one of
// the parallel create slots) come before the create itself. A zero seen
// (a create outside a pass) changes nothing.
func (t *phaseTimer) seen(seen, parsed time.Time) {
	if seen.IsZero() || parsed.Before(seen) || t.last.Before(parsed) {
		return
	}
	t.start = seen
	t.detail("parse", parsed.Sub(seen))
	t.detail("queue", t.last.Sub(parsed))
}

// mark closes the phase that ends now.
func (t *phaseTimer) mark(phase string) {
	now := time.Now()
	t.detail(phase, now.Sub(t.last))
	t.last = now
}

// detail records a part of a phase.
func (t *phaseTimer) detail(name string, d time.Duration) {
	t.attrs = append(t.attrs, slog.Duration(name, d))
}

// containers records the start breakdown of the container that took
// longest to start: with containers started in parallel, it is the one the
// pod waited for.
func (t *phaseTimer) containers(st infra.PodStatus) {
	var slowest string
	var ct kube.StartTimings
	for _, c := range slices.Concat(st.InitContainers, st.Containers) {
		if r := c.State.Running; r != nil && r.StartTimings.Total() > ct.Total() {
			slowest, ct = c.Name, r.StartTimings
		}
	}
	if slowest == "" {
		return
	}
	t.attrs = append(t.attrs, slog.String("slowest", slowest))
	t.detail("ctr_clone", ct.Clone)
	t.detail("ctr_runtime", ct.Runtime)
	t.detail("ctr_cgroups", ct.Cgroups)
	t.detail("ctr_rootfs", ct.Rootfs)
	t.detail("ctr_setup", ct.Setup)
	t.detail("ctr_exec", ct.Exec)
}

// done logs the "pod created" line.
func (t *phaseTimer) done() { t.doneAs("pod created") }

// doneAs logs the phases as one line with message msg.
func (t *phaseTimer) doneAs(msg string, extra ...slog.Attr) {
	t.total = time.Since(t.start)
	attrs := append([]slog.Attr{slog.String("pod", t.pod), slog.Duration("total", t.total)}, t.attrs...)
	t.log.LogAttrs(context.Background(), slog.LevelInfo, msg, append(attrs, extra...)...)
}

// summary is the logged breakdown as one sentence, for an event.
func (t *phaseTimer) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Started in %s:", roundDuration(t.total))
	for i, a := range t.attrs {
		if i > 0 {
			b.WriteByte(',')
		}
		v := a.Value.String()
		if a.Value.Kind() == slog.KindDuration {
			v = roundDuration(a.Value.Duration()).String()
		}
		fmt.Fprintf(&b, " %s %s", a.Key, v)
	}
	return b.String()
}

// roundDuration keeps two decimals of a millisecond.
func roundDuration(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
