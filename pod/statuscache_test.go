package pod

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// pushInfra is the fake host's infra with a status the test sets (push),
// pushed on every watch and answered to Status; break ends every watch
// as a broken stream does. It counts the calls of each, and the statuses
// a watcher took. With answerStart it answers Start with its status too,
// as an infra does; a watch pushes nothing before hold is closed, when
// set.
type pushInfra struct {
	*fakeHost
	answerStart bool
	hold        chan struct{}
	mu          sync.Mutex
	latest      infra.PodStatus
	streams     map[chan infra.PodStatus]bool
	watches     int
	polls       int
	delivered   int
}

func (s *pushInfra) Start(ctx context.Context, socket string, ready func() error, inits, ctrs []infra.ContainerConfig) (infra.PodStatus, error) {
	st, err := s.fakeHost.Start(ctx, socket, ready, inits, ctrs)
	if err != nil || !s.answerStart {
		return st, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest, nil
}

func (s *pushInfra) WatchStatus(ctx context.Context, socket string, fn func(infra.PodStatus)) error {
	if _, err := s.fakeHost.Status(ctx, socket); err != nil {
		return err
	}
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ch := make(chan infra.PodStatus, 1)
	s.mu.Lock()
	s.watches++
	ch <- s.latest
	s.streams[ch] = true
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			delete(s.streams, ch)
			s.mu.Unlock()
			return ctx.Err()
		case st, ok := <-ch:
			if !ok {
				return fmt.Errorf("infra %s watch: %w", socket, io.EOF)
			}
			fn(st)
			s.mu.Lock()
			s.delivered++
			s.mu.Unlock()
		}
	}
}

func (s *pushInfra) Status(ctx context.Context, socket string) (infra.PodStatus, error) {
	if _, err := s.fakeHost.Status(ctx, socket); err != nil {
		return infra.PodStatus{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	return s.latest, nil
}

func (s *pushInfra) push(st infra.PodStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest = st
	for ch := range s.streams {
		select {
		case <-ch:
		default:
		}
		ch <- st
	}
}

func (s *pushInfra) breakStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.streams {
		close(ch)
	}
	clear(s.streams)
}

func (s *pushInfra) calls() (watches, polls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watches, s.polls
}

// TestStatusCache: a pod's view is the status its infra pushed last, with
// no call to the infra per listing, and shows what a fresh Status would;
// a broken stream of a live infra asks for a pass and is opened again.
func TestStatusCache(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t.TempDir())
	src := &pushInfra{fakeHost: h, streams: map[chan infra.PodStatus]bool{}}
	cfg := h.config()
	cfg.Infra = src
	var passes atomic.Int32
	cfg.InfraExited = func() { passes.Add(1) }
	m := NewManager(cfg)
	p := webPod(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := infra.PodStatus{Version: infra.ProtocolVersion, Started: true, StartedAt: t0,
		Containers: []infra.ContainerStatus{{Name: "web", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: t0}}}}}
	src.push(running)
	if err := m.Apply(ctx, createAction(p)); err != nil {
		t.Fatal(err)
	}
	state := func() kube.ContainerState {
		v, ok := m.Pod(ctx, p.Namespace, p.Name)
		if !ok || len(v.Containers) != 1 {
			t.Fatalf("the pod shows %+v", v)
		}
		return v.Containers[0].State
	}
	testutil.WaitFor(t, 5*time.Second, "the pushed status cached", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.pods[podid.ID(p.Namespace, p.Name)].cached != nil
	})
	_, before := src.calls()
	if st := state(); st.Running == nil {
		t.Errorf("the pod shows %+v, want running", st)
	}

	// A container that could not be created: no run starts, the infra
	// pushes the waiting reason and restart count (protocol 11).
	failing := running
	failing.Containers = []infra.ContainerStatus{{Name: "web", RestartCount: 2,
		State: kube.ContainerState{Waiting: &kube.StateWaiting{Reason: kube.ReasonCreateFailed, Message: "no user"}}}}
	src.push(failing)
	testutil.WaitFor(t, 5*time.Second, "the pushed CreateContainerError shown", func() bool {
		st := state()
		return st.Waiting != nil && st.Waiting.Reason == kube.ReasonCreateFailed
	})
	m.Pods(ctx)
	if _, polls := src.calls(); polls != before {
		t.Errorf("listings asked the infra %d times, want none", polls-before)
	}
	cached := m.Pods(ctx)

	// Without its watch, a listing asks the infra, and shows the same.
	e := m.pods[podid.ID(p.Namespace, p.Name)]
	m.stopWatch(e)
	_, before = src.calls()
	fresh := m.Pods(ctx)
	if _, polls := src.calls(); polls != before+1 {
		t.Errorf("without a watch a listing asked the infra %d times, want 1", polls-before)
	}
	if !reflect.DeepEqual(cached, fresh) {
		t.Errorf("the view from the pushed status\n%+v\ndiffers from the one from a fresh Status\n%+v", cached, fresh)
	}

	// The stream breaks, the infra lives: a pass is asked for and the
	// watch comes back by itself.
	m.watchInfra(e)
	cachedAgain := func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return e.cached != nil
	}
	testutil.WaitFor(t, 5*time.Second, "the watch opened", cachedAgain)
	src.breakStreams()
	testutil.WaitFor(t, 5*time.Second, "a pass asked for by the broken stream", func() bool { return passes.Load() > 0 })
	testutil.WaitFor(t, 5*time.Second, "the watch opened again", func() bool {
		w, _ := src.calls()
		return w == 3 && cachedAgain()
	})
	if err := m.Apply(ctx, deleteAction(p)); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, h)
}

// TestStatusCacheFromStart: until its watch's first push, a created pod
// shows the status its infra answered Start with, without asking the infra
// again (apply's wait comes right after the create); one of an infra whose
// pushes the cache would not keep is asked for, as before.
func TestStatusCacheFromStart(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		version   int
		wantPolls int
	}{
		{infra.ProtocolVersion, 0},
		{infra.WatchAllVersion - 1, 1},
	} {
		t.Run(fmt.Sprint("protocol ", tc.version), func(t *testing.T) {
			h := newFakeHost(t.TempDir())
			src := &pushInfra{fakeHost: h, streams: map[chan infra.PodStatus]bool{}, answerStart: true, hold: make(chan struct{})}
			cfg := h.config()
			cfg.Infra = src
			m := NewManager(cfg)
			p := webPod(t)
			src.push(infra.PodStatus{Version: tc.version, Started: true, StartedAt: t0,
				Containers: []infra.ContainerStatus{{Name: "web", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: t0}}}}})
			if err := m.Apply(ctx, createAction(p)); err != nil {
				t.Fatal(err)
			}
			v, ok := m.Pod(ctx, p.Namespace, p.Name)
			if !ok || len(v.Containers) != 1 || v.Containers[0].State.Running == nil {
				t.Errorf("the created pod shows %+v, want its container running", v)
			}
			if _, polls := src.calls(); polls != tc.wantPolls {
				t.Errorf("the listing after the create asked the infra %d times, want %d", polls, tc.wantPolls)
			}
			close(src.hold)
			if err := m.Apply(ctx, deleteAction(p)); err != nil {
				t.Fatal(err)
			}
			checkEmpty(t, h)
		})
	}
}

// TestStatusCacheOldInfra: an infra whose watch misses changes (protocol
// 10) is asked at each listing; one that cannot watch (before 10) is asked
// too, and its death is learnt from a pidfd watch.
func TestStatusCacheOldInfra(t *testing.T) {
	ctx := context.Background()
	t.Run("protocol 10", func(t *testing.T) {
		h := newFakeHost(t.TempDir())
		src := &pushInfra{fakeHost: h, streams: map[chan infra.PodStatus]bool{}}
		src.push(infra.PodStatus{Version: infra.WatchAllVersion - 1, Started: true})
		cfg := h.config()
		cfg.Infra = src
		m := NewManager(cfg)
		p := webPod(t)
		if err := m.Apply(ctx, createAction(p)); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 5*time.Second, "the first status taken", func() bool {
			src.mu.Lock()
			defer src.mu.Unlock()
			return src.delivered == 1
		})
		_, before := src.calls()
		m.Pods(ctx)
		if _, polls := src.calls(); polls != before+1 {
			t.Errorf("a listing asked the infra %d times, want 1", polls-before)
		}
	})
	t.Run("protocol 7", func(t *testing.T) {
		h := newFakeHost(t.TempDir())
		h.oldInfra = true
		cfg := h.config()
		var passes atomic.Int32
		cfg.InfraExited = func() { passes.Add(1) }
		m := NewManager(cfg)
		p := webPod(t)
		if err := m.Apply(ctx, createAction(p)); err != nil {
			t.Fatal(err)
		}
		pid := m.pods[podid.ID(p.Namespace, p.Name)].rec.InfraPID
		testutil.WaitFor(t, 5*time.Second, "the pidfd watch", func() bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return len(h.procs[pid].watchers) == 1
		})
		if v, ok := m.Pod(ctx, p.Namespace, p.Name); !ok || v.Phase == "" {
			t.Errorf("the pod shows %+v", v)
		}
		h.die(pid)
		if passes.Load() != 1 {
			t.Errorf("the infra's death asked for %d passes, want 1", passes.Load())
		}
	})
}

// TestStatusWatchOnePerPod: a pod with probes and a postStart hook holds
// one status watch of its infra, whose pushes reach the status cache, the
// prober and the hooker alike.
func TestStatusWatchOnePerPod(t *testing.T) {
	ctx := context.Background()
	h := newFakeHost(t.TempDir())
	src := &pushInfra{fakeHost: h, streams: map[chan infra.PodStatus]bool{}}
	cfg := h.config()
	cfg.Infra = src
	m := NewManager(cfg)
	p := webPod(t)
	p.Spec.HostNetwork = true // the probes and hooks dial from the host: no namespace to open
	p.Spec.Containers[0].Ports[0].HostPort = 0
	p.Spec.Containers[0].ReadinessProbe = &manifests.Probe{ProbeHandler: manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Port: manifests.FromInt(1)}}, PeriodSeconds: 3600}
	p.Spec.Containers[0].Lifecycle = &manifests.Lifecycle{PostStart: &manifests.LifecycleHandler{Sleep: &manifests.SleepAction{}}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	running := func(at time.Time) infra.PodStatus {
		return infra.PodStatus{Version: infra.ProtocolVersion, Started: true, StartedAt: t0,
			Containers: []infra.ContainerStatus{{Name: "web", State: kube.ContainerState{Running: &kube.StateRunning{StartedAt: at}}}}}
	}
	src.push(running(t0))
	if err := m.Apply(ctx, createAction(p)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Apply(ctx, deleteAction(p)) })
	e := m.pods[podid.ID(p.Namespace, p.Name)]
	if e.probes == nil || e.hooks == nil {
		t.Fatalf("the pod has probes %v and hooks %v, want both", e.probes != nil, e.hooks != nil)
	}
	for i, at := range []time.Time{t0, t0.Add(time.Minute)} {
		src.push(running(at))
		testutil.WaitFor(t, 5*time.Second, fmt.Sprintf("run %d seen by the cache, the prober and the hooker", i), func() bool {
			m.mu.Lock()
			cached := e.cached != nil && e.cached.Containers[0].State.Running.StartedAt.Equal(at)
			m.mu.Unlock()
			e.hooks.mu.Lock()
			hooked := e.hooks.runs["web"].run.Equal(at)
			e.hooks.mu.Unlock()
			return cached && hooked && e.probes.statuses()["web"].run.Equal(at)
		})
	}
	src.mu.Lock()
	watches, streams := src.watches, len(src.streams)
	src.mu.Unlock()
	if watches != 1 || streams != 1 {
		t.Errorf("%d watches opened, %d open; want one, shared", watches, streams)
	}
}
