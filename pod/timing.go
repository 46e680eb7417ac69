package pod

import (
	"log/slog"
	"time"
)

// phaseTimer records how long each step of a pod's creation took and logs
// them as one line when the pod runs (bench/ and users read these to see
// where start time goes).
type phaseTimer struct {
	log   *slog.Logger
	pod   string
	start time.Time
	last  time.Time
	attrs []any
}

func newPhaseTimer(log *slog.Logger, pod string) *phaseTimer {
	now := time.Now()
	return &phaseTimer{log: log, pod: pod, start: now, last: now}
}

// mark closes the phase that ends now.
func (t *phaseTimer) mark(phase string) {
	now := time.Now()
	t.attrs = append(t.attrs, slog.Duration(phase, now.Sub(t.last)))
	t.last = now
}

func (t *phaseTimer) done() {
	attrs := append([]any{"pod", t.pod, slog.Duration("total", time.Since(t.start))}, t.attrs...)
	t.log.Info("pod created", attrs...)
}
