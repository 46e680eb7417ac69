package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/pod"
)

// The socket opens before the recovery: requests wait for it (or for
// their own deadline), then are answered.
func TestRequestsWaitForRecovery(t *testing.T) {
	b := &backend{mgr: pod.NewManager(pod.Config{}), loader: manifestdir.NewLoader(t.TempDir()), events: newEventLog(10, nil), recovered: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Pods(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pods during recovery = %v, want it to wait until its deadline", err)
	}
	if err := b.Reconcile(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Reconcile during recovery = %v, want it to wait until its deadline", err)
	}
	close(b.recovered)
	if pods, err := b.Pods(context.Background()); err != nil || len(pods) != 0 {
		t.Fatalf("Pods after recovery = %v, %v", pods, err)
	}
}
