package pod

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/probe"
)

// statusSource is an Infra whose statuses come from a channel: pushed
// through WatchStatus, or, as an infra of protocol 7, only answered to
// Status (the latest one pushed). It counts the calls of each.
type statusSource struct {
	Infra
	old     bool
	pushed  chan infra.PodStatus
	mu      sync.Mutex
	latest  infra.PodStatus
	watches int
	polls   int
}

func (s *statusSource) WatchStatus(ctx context.Context, _ string, fn func(infra.PodStatus)) error {
	s.mu.Lock()
	s.watches++
	s.mu.Unlock()
	if s.old {
		return fmt.Errorf("watch: infra protocol 7: %w", infra.ErrUnsupported)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case st := <-s.pushed:
			fn(st)
		}
	}
}

func (s *statusSource) Status(context.Context, string) (infra.PodStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	select {
	case st := <-s.pushed:
		s.latest = st
	default:
	}
	return s.latest, nil
}

func (s *statusSource) calls() (watches, polls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watches, s.polls
}

// TestProberWatch: the prober learns of a container's runs and exits from
// the status its infra pushes, on the pod's one stream (the status
// cache's), which another follower (the hooker's place) shares: the infra
// is watched once and never asked. From an infra too old to push, each
// learns by asking every probePoll.
func TestProberWatch(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := func(at time.Time) infra.PodStatus {
		return infra.PodStatus{Version: infra.ProtocolVersion, Containers: []infra.ContainerStatus{{Name: "app", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: at}}}}}
	}
	exited := infra.PodStatus{Version: infra.ProtocolVersion, Containers: []infra.ContainerStatus{{Name: "app", State: kube.ContainerState{Terminated: &kube.StateTerminated{ExitCode: 1}}}}}
	for _, old := range []bool{false, true} {
		t.Run(fmt.Sprintf("old=%v", old), func(t *testing.T) {
			src := &statusSource{old: old, pushed: make(chan infra.PodStatus)}
			m := NewManager(Config{Infra: src, Event: func(Event) {}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Processes: fakeProcesses{newFakeHost(t.TempDir())}})
			p := &manifests.Pod{ObjectMeta: manifests.ObjectMeta{Namespace: "default", Name: "web"}}
			e := &entry{rec: &record{Pod: p}, layout: Layout{Run: t.TempDir()}}
			m.watchInfra(e)
			t.Cleanup(func() { m.stopWatch(e) })
			pr := &prober{m: m, e: e, pod: p, socket: "/s", ctx: t.Context(), ctrs: map[string]*probed{}}
			pc := &probed{}
			pc.runner = probe.NewRunner("app", probe.SystemClock{}, func(probe.Report) {})
			pr.ctrs["app"] = pc
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			t.Cleanup(func() { cancel(); wg.Wait() })
			wg.Go(func() { pc.runner.Run(ctx) })
			wg.Go(func() { pr.watch(ctx) })
			var mu sync.Mutex
			var other time.Time
			wg.Go(func() {
				m.followStatus(ctx, e, func(st infra.PodStatus) {
					mu.Lock()
					defer mu.Unlock()
					other = time.Time{}
					if r := st.Containers[0].State.Running; r != nil {
						other = r.StartedAt
					}
				})
			})
			seen := func(want time.Time) bool {
				mu.Lock()
				defer mu.Unlock()
				return pr.statuses()["app"].run.Equal(want) && other.Equal(want)
			}
			for i, st := range []infra.PodStatus{running(t0), exited, running(t0.Add(time.Minute))} {
				src.pushed <- st
				want := time.Time{}
				if r := st.Containers[0].State.Running; r != nil {
					want = r.StartedAt
				}
				testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("status %d seen by both", i), func() bool { return seen(want) })
			}
			watches, polls := src.calls()
			if old && (watches != 1 || polls < 3) {
				t.Errorf("old infra: %d watches, %d polls; want 1 watch, then polls", watches, polls)
			}
			if !old && (watches != 1 || polls != 0) {
				t.Errorf("%d watches, %d polls; want one watch, shared, and no polls", watches, polls)
			}
		})
	}
}
