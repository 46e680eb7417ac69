package registry

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

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
	// pulls are the ended pulls Pulled heard of: "ok" and the bytes
	// downloaded, or "failed".
	pulls []string
}

func newResolverRig(t *testing.T, s *images.Store) *resolverRig {
	t.Helper()
	rig := &resolverRig{done: make(chan struct{}, 16), now: time.Unix(1_000_000, 0)}
	rig.r = NewResolver(mustNew(t, s, anonymous), ResolverOptions{
		Event: func(ns, pod, reason, msg string) {
			rig.mu.Lock()
			rig.evs = append(rig.evs, ns+"/"+pod+" "+reason)
			rig.mu.Unlock()
		},
		Done: func() { rig.done <- struct{}{} },
		Pulled: func(res Result, err error) {
			rig.mu.Lock()
			defer rig.mu.Unlock()
			if err != nil {
				rig.pulls = append(rig.pulls, "failed")
				return
			}
			rig.pulls = append(rig.pulls, fmt.Sprintf("ok %d", res.Downloaded))
		},
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
	size, _ := layers[0].Size()
	rig.mu.Lock()
	defer rig.mu.Unlock()
	var downloaded int64
	if len(rig.pulls) == 1 {
		fmt.Sscanf(rig.pulls[0], "ok %d", &downloaded)
	}
	if len(rig.pulls) != 1 || downloaded < size {
		t.Errorf("pulls counted %q, want one of at least the layer's %d bytes", rig.pulls, size)
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
	f := rig.r.failed[pullKey{ref: ref}]
	rig.r.mu.Unlock()
	if f == nil || f.count != 2 || !f.retryAt.Equal(rig.now.Add(2*time.Hour)) {
		t.Errorf("second failure: %+v", f)
	}
	if ev := rig.events(); ev != "default/a Pulling, default/a Pulling" {
		t.Errorf("events: %s", ev)
	}
	rig.mu.Lock()
	defer rig.mu.Unlock()
	if got := strings.Join(rig.pulls, ","); got != "failed,failed" {
		t.Errorf("pulls counted %q, want two failed", got)
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
	if _, err := mustNew(t, s, anonymous).Pull(t.Context(), host+"/demo:1", images.DefaultPlatform(), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportRootfs(dir, host+"/imported:latest"); err != nil {
		t.Fatal(err)
	}
	// A present image is used without asking the registry: a pulled one
	// unless the policy is Always, an imported one whatever the policy.
	requests.Store(0)
	for _, tc := range [][2]string{
		{"/demo:1", "IfNotPresent"}, {"/demo:1", "Never"},
		{"/imported:latest", "Always"}, {"/imported:latest", "IfNotPresent"}, {"/imported:latest", "Never"},
	} {
		if _, err := rig.r.Resolve("default", "a", host+tc[0], tc[1]); err != nil {
			t.Errorf("%s %s: %v", tc[0], tc[1], err)
		}
	}
	if ev := rig.events(); ev != "" || requests.Load() != 0 {
		t.Errorf("events: %q, %d requests", ev, requests.Load())
	}
}

func TestResolverAlwaysPullsAPulledImageAgain(t *testing.T) {
	s := newStore(t)
	rig := newResolverRig(t, s)
	var down atomic.Bool
	host := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, `{"errors":[{"code":"DENIED","message":"denied"}]}`, http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ref := host + "/app:latest"
	push(t, ref, randomImage(t, 1))
	if _, err := mustNew(t, s, anonymous).Pull(t.Context(), ref, images.DefaultPlatform(), nil); err != nil {
		t.Fatal(err)
	}
	// The tag moves; the next create under Always gets the new image.
	next := randomImage(t, 1)
	push(t, ref, next)
	if _, err := rig.r.Resolve("default", "a", ref, "Always"); reasonOf(err) != ReasonPulling {
		t.Fatalf("Always with the image present: %v", err)
	}
	<-rig.done
	got, err := rig.r.Resolve("default", "a", ref, "Always")
	if err != nil || got.ID != digestOf(t, next.ConfigName).String() {
		t.Fatalf("after the pull: %s, %v; want %s", got.ID, err, digestOf(t, next.ConfigName))
	}
	// As on a kubelet, a registry that refuses the pull fails the pod
	// under Always even though the image is present.
	down.Store(true)
	if _, err := rig.r.Resolve("default", "a", ref, "Always"); reasonOf(err) != ReasonPulling {
		t.Fatalf("second create: %v", err)
	}
	<-rig.done
	if _, err := rig.r.Resolve("default", "a", ref, "Always"); reasonOf(err) != ReasonErrPull {
		t.Errorf("Always with the registry refusing: %v", err)
	}
	if _, err := rig.r.Resolve("default", "b", ref, "IfNotPresent"); err != nil {
		t.Errorf("IfNotPresent with the registry refusing: %v", err)
	}
	if ev := rig.events(); ev != "default/a Pulling, default/a Pulled, default/a Pulling" {
		t.Errorf("events: %s", ev)
	}
}

// Each pod pulls with the credentials of its own imagePullSecrets: a pod
// whose Secret has a wrong password fails and backs off alone, and the
// pod with the right one pulls meanwhile.
func TestResolverPullsWithEachPodsCredentials(t *testing.T) {
	host := serve(t, basicAuth("berth", "right-pw"))
	img := randomImage(t, 1)
	ref := host + "/private:1"
	push(t, ref, img, remote.WithAuth(&basicAuthn{"berth", "right-pw"}))
	rig := newResolverRig(t, newStore(t))
	creds := map[string]*DockerConfig{
		"good": {Auths: map[string]AuthEntry{host: {Username: "berth", Password: "right-pw"}}},
		"bad":  {Auths: map[string]AuthEntry{host: {Username: "berth", Password: "wrong-pw"}}},
	}
	rig.r.o.Credentials = func(ns, pod string) (*DockerConfig, error) { return creds[pod], nil }

	if _, err := rig.r.Resolve("default", "bad", ref, "IfNotPresent"); reasonOf(err) != ReasonPulling {
		t.Fatalf("bad: %v", err)
	}
	<-rig.done
	_, err := rig.r.Resolve("default", "bad", ref, "IfNotPresent")
	if reasonOf(err) != ReasonErrPull || !strings.Contains(err.Error(), "UNAUTHORIZED") || strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("bad after its pull: %v", err)
	}
	if _, err := rig.r.Resolve("default", "bad", ref, "IfNotPresent"); reasonOf(err) != ReasonBackOff {
		t.Fatalf("bad again: %v", err)
	}
	// The other pod's pull is not held by that back-off.
	if _, err := rig.r.Resolve("default", "good", ref, "IfNotPresent"); reasonOf(err) != ReasonPulling {
		t.Fatalf("good: %v", err)
	}
	<-rig.done
	got, err := rig.r.Resolve("default", "good", ref, "IfNotPresent")
	if err != nil || got.ID != digestOf(t, img.ConfigName).String() {
		t.Fatalf("good after its pull: %v %v", got.ID, err)
	}
}
