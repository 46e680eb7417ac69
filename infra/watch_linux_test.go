package infra

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
)

// TestInfraWatch: a watch gets the status at once, then a status for
// each exit and new run of a container, without asking; the watch ends
// when the caller's context does, and the infra drops it.
func TestInfraWatch(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartAlways, []string{"app", "ignore-term"})
	proc, c := launchPod(t, cfg)
	if _, err := c.Start(ctx(t), nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "app running", func() bool { return status(t, c).Containers[0].State.Running != nil })
	wctx, cancel := context.WithCancel(ctx(t))
	statuses := make(chan PodStatus, 16)
	done := make(chan error, 1)
	go func() { done <- c.Watch(wctx, func(st PodStatus) { statuses <- st }) }()
	next := func(what string) PodStatus {
		t.Helper()
		select {
		case st := <-statuses:
			return st
		case err := <-done:
			t.Fatalf("%s: watch ended: %v", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no status pushed", what)
		}
		return PodStatus{}
	}
	first := next("the first status").Containers[0].State.Running
	if first == nil {
		t.Fatal("first status: app not running")
	}
	if err := c.Kill(ctx(t), "app", 100*time.Millisecond, "test"); err != nil {
		t.Fatal(err)
	}
	var restarted bool
	for !restarted {
		r := next("after the kill").Containers[0].State.Running
		restarted = r != nil && !r.StartedAt.Equal(first.StartedAt)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("watch after cancel = %v, want context.Canceled", err)
	}
	shutdown(t, c, proc.Pid, cfg.Socket)
}

// TestWatchFromAnOldInfra: an infra of protocol version 9 refuses the
// op; the caller gets ErrUnsupported and falls back to asking.
func TestWatchFromAnOldInfra(t *testing.T) {
	sock, _ := refusingInfra(t, 9)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	called := false
	if err := NewClient(sock).Watch(ctx, func(PodStatus) { called = true }); !errors.Is(err, ErrUnsupported) || called {
		t.Errorf("Watch from a version 9 infra = %v (fn called: %v), want ErrUnsupported", err, called)
	}
}

// TestInfraWatchPushesEveryChange: what a watch pushed last is the pod's
// status as a fresh Status gives it, but for the events, also after a
// change without a run starting or ending: the pod's deadline passing
// while its container waits out a back-off.
func TestInfraWatchPushesEveryChange(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartAlways, []string{"app", "exit:1"})
	cfg.Backoff.Initial, cfg.Backoff.Max = time.Minute, time.Minute
	cfg.ActiveDeadline = 2 * time.Second
	proc, c := launchPod(t, cfg)
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	var mu sync.Mutex
	var last PodStatus
	go c.Watch(wctx, func(st PodStatus) {
		mu.Lock()
		last = st
		mu.Unlock()
	})
	if _, err := c.Start(ctx(t), nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	pushed := func() PodStatus {
		mu.Lock()
		defer mu.Unlock()
		st := last
		st.Events = nil
		return st
	}
	waitFor(t, "the deadline pushed", func() bool { return pushed().Reason == kube.ReasonDeadlineExceeded })
	fresh := status(t, c)
	fresh.Events = nil
	if got := pushed(); !reflect.DeepEqual(got, fresh) {
		t.Errorf("pushed status\n%+v\ndiffers from a fresh one\n%+v", got, fresh)
	}
	shutdown(t, c, proc.Pid, cfg.Socket)
}
