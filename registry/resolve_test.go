package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-project/berth/images"
)

// resolverRig is a Resolver over an in-process registry, with its events
// and Done calls recorded.
type resolverRig struct {
	r    *Resolver
	done chan struct{}
	mu   sync.Mutex
	evs  []string
	now  time.Time
}

func newResolverRig(t *testing.T, s *images.Store) *resolverRig {
	t.Helper()
	rig := &resolverRig{done: make(chan struct{}, 16), now: time.Unix(1_000_000, 0)}
	rig.r = NewResolver(New(s, anonymous), ResolverOptions{
		Event: func(ns, pod, reason, msg string) {
			rig.mu.Lock()
			rig.evs = append(rig.evs, ns+"/"+pod+" "+reason)
			rig.mu.Unlock()
		},
		Done:           func() { rig.done <- struct{}{} },
		BackoffInitial: time.Hour, // the back-off's own Done never fires during the test
		BackoffMax:     4 * time.Hour,
	})
	rig.r.now = func() time.Time { return rig.now }
	return rig
}

func (rig *resolverRig) events() string {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return strings.Join(rig.evs, ", ")
}

func reasonOf(err error) string {
	var pe *PullError
	if errors.As(err, &pe) {
		return pe.Reason()
	}
	return fmt.Sprintf("not a PullError: %v", err)
}

func TestResolverPullsInBackgroundOncePerImage(t *testing.T) {
	c := &countBlobs{n: map[string]int{}}
	host := serve(t, c.wrap)
	img := randomImage(t, 1)
	push(t, host+"/demo:1", img)
	ref := host + "/demo:1"
	rig := newResolverRig(t, newStore(t))

	for _, pod := range []string{"a", "b"} {
		_, err := rig.r.Resolve("default", pod, ref, "IfNotPresent")
		if reasonOf(err) != ReasonPulling || !errors.Is(err, ErrPulling) {
			t.Fatalf("pod %s: %v", pod, err)
		}
	}
	<-rig.done
	for _, pod := range []string{"a", "b"} {
		got, err := rig.r.Resolve("default", pod, ref, "Always")
		if err != nil || got.ID != digestOf(t, img.ConfigName).String() {
			t.Fatalf("pod %s after the pull: %v %v", pod, got.ID, err)
		}
	}
	if ev := rig.events(); ev != "default/a Pulling, default/b Pulling, default/a Pulled, default/b Pulled" &&
		ev != "default/a Pulling, default/b Pulling, default/b Pulled, default/a Pulled" {
		t.Errorf("events: %s", ev)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	if n := c.n[d.String()]; n != 1 {
		t.Errorf("layer fetched %d times for two pods", n)
	}
}

func TestResolverNeverPullsUnderNever(t *testing.T) {
	var requests atomic.Int32
	host := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1); h.ServeHTTP(w, r) })
	})
	rig := newResolverRig(t, newStore(t))
	_, err := rig.r.Resolve("default", "a", host+"/demo:1", "Never")
	if reasonOf(err) != ReasonNeverPull || !errors.Is(err, images.ErrNotFound) || requests.Load() != 0 {
		t.Errorf("Never: %v, %d requests", err, requests.Load())
	}
}

func TestResolverBacksOffAfterAFailedPull(t *testing.T) {
	host := serve(t, nil)
	ref := host + "/missing:1"
	rig := newResolverRig(t, newStore(t))
	if _, err := rig.r.Resolve("default", "a", ref, "IfNotPresent"); reasonOf(err) != ReasonPulling {
		t.Fatal(err)
	}
	<-rig.done
	// The pod hears of the failure once, then of the back-off.
	_, err := rig.r.Resolve("default", "a", ref, "IfNotPresent")
	if reasonOf(err) != ReasonErrPull || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatalf("after the failed pull: %v", err)
	}
	for _, pod := range []string{"a", "b"} {
		if _, err := rig.r.Resolve("default", pod, ref, "IfNotPresent"); reasonOf(err) != ReasonBackOff {
			t.Fatalf("pod %s during the back-off: %v", pod, err)
		}
	}
	// Once it is over, the next resolve pulls again, and a second
	// failure doubles the wait.
	rig.now = rig.now.Add(time.Hour + time.Second)
	if _, err := rig.r.Resolve("default", "a", ref, "IfNotPresent"); reasonOf(err) != ReasonPulling {
		t.Fatalf("after the back-off: %v", err)
	}
	<-rig.done
	rig.r.mu.Lock()
	f := rig.r.failed[ref]
	rig.r.mu.Unlock()
	if f == nil || f.count != 2 || !f.retryAt.Equal(rig.now.Add(2*time.Hour)) {
		t.Errorf("second failure: %+v", f)
	}
	if ev := rig.events(); ev != "default/a Pulling, default/a Pulling" {
		t.Errorf("events: %s", ev)
	}
}

func TestResolverUsesPresentImage(t *testing.T) {
	s := newStore(t)
	rig := newResolverRig(t, s)
	var requests atomic.Int32
	host := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1); h.ServeHTTP(w, r) })
	})
	push(t, host+"/demo:1", randomImage(t, 1))
	if _, err := New(s, anonymous).Pull(t.Context(), host+"/demo:1", images.DefaultPlatform(), nil); err != nil {
		t.Fatal(err)
	}
	// A present image is used whatever the policy, without asking the
	// registry.
	requests.Store(0)
	for _, policy := range []string{"Always", "IfNotPresent", "Never"} {
		if _, err := rig.r.Resolve("default", "a", host+"/demo:1", policy); err != nil {
			t.Errorf("%s: %v", policy, err)
		}
	}
	if ev := rig.events(); ev != "" || requests.Load() != 0 {
		t.Errorf("events: %q, %d requests", ev, requests.Load())
	}
}
