package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/kube"
)

// Kubernetes' status reasons of a container whose image is being pulled
// or could not be.
const (
	ReasonPulling   = kube.ReasonContainerCreating
	ReasonErrPull   = kube.ReasonErrImagePull
	ReasonBackOff   = kube.ReasonImagePullBackOff
	ReasonNeverPull = kube.ReasonImageNotFound
)

// Kubelet's image pull back-off: 10 s, doubling up to 5 min.
const (
	DefaultBackoffInitial = 10 * time.Second
	DefaultBackoffMax     = 5 * time.Minute
)

// PullError is why a container's image cannot be used yet, with the
// Kubernetes reason for its status.
type PullError struct {
	reason string
	err    error
}

func (e *PullError) Error() string { return e.err.Error() }
func (e *PullError) Unwrap() error { return e.err }

// Reason is the status reason: one of the Reason constants.
func (e *PullError) Reason() string { return e.reason }

// ErrPulling is the error of a resolve that started a pull, or found one
// under way: the pod is created once it is done.
var ErrPulling = errors.New("pulling the image")

// ResolverOptions configure a Resolver.
type ResolverOptions struct {
	Platform images.Platform
	// Event records a Normal event of the pod a pull is for: "Pulling",
	// "Pulled".
	Event func(namespace, pod, reason, message string)
	// Done is called after each background pull ends and when a pull's
	// back-off is over, so that the caller retries the pods that wait.
	Done func()
	// Pulled is called once for each background pull that ended, with its
	// result (the bytes downloaded) or its error, for the daemon's
	// counters.
	Pulled func(Result, error)
	// Credentials returns the credentials of a pod's imagePullSecrets
	// (MergeSecrets), nil when it has none; an error fails the pull as
	// ErrImagePull.
	Credentials func(namespace, pod string) (*DockerConfig, error)
	// BackoffInitial and BackoffMax bound the wait before an image whose
	// pull failed is pulled again (defaults: kubelet's 10 s and 5 min).
	BackoffInitial, BackoffMax time.Duration
	Log                        *slog.Logger
}

// Resolver gives a pod's containers their images by their
// imagePullPolicy. An image the store lacks is pulled (unless the policy
// is Never) in the background, once for every pod that wants it: Resolve
// never waits for a download, so pods whose images are present are never
// held up by another pod's pull. Always pulls an image that a pull added
// again for each pod create, as the kubelet does for each container
// start (layers the store has are not downloaded again); an image
// imported from an archive or a directory has no registry to ask, and is
// used as imported.
type Resolver struct {
	p   *Puller
	o   ResolverOptions
	now func() time.Time

	mu     sync.Mutex
	pulls  map[pullKey]*pullOp
	failed map[pullKey]*failure
	// asked are the pulls each pod has been told about, so that a
	// failure is reported to it as ErrImagePull once before
	// ImagePullBackOff.
	asked map[askKey]*pullOp
}

type askKey struct{ namespace, pod, ref string }

// pullKey is a pull: the reference as the store keeps it and the ID of
// the credentials it uses, so that a pod's wrong password never fails
// another pod's pull.
type pullKey struct{ ref, creds string }

type pullOp struct {
	done chan struct{}
	err  error
}

type failure struct {
	count   int
	retryAt time.Time
	err     error
}

// NewResolver returns a Resolver pulling with p.
func NewResolver(p *Puller, o ResolverOptions) *Resolver {
	if o.BackoffInitial <= 0 {
		o.BackoffInitial = DefaultBackoffInitial
	}
	if o.BackoffMax < o.BackoffInitial {
		o.BackoffMax = max(DefaultBackoffMax, o.BackoffInitial)
	}
	if o.Event == nil {
		o.Event = func(string, string, string, string) {}
	}
	if o.Done == nil {
		o.Done = func() {}
	}
	if o.Pulled == nil {
		o.Pulled = func(Result, error) {}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Platform == (images.Platform{}) {
		o.Platform = images.DefaultPlatform()
	}
	return &Resolver{p: p, o: o, now: time.Now, pulls: map[pullKey]*pullOp{}, failed: map[pullKey]*failure{}, asked: map[askKey]*pullOp{}}
}

// Resolve returns the image ref names for a container of pod
// namespace/pod whose imagePullPolicy is policy, or a *PullError: the
// image is being pulled (ReasonPulling, wrapping ErrPulling), its pull
// failed (ReasonErrPull, once per pod), is in back-off (ReasonBackOff), or
// it is missing under Never (ReasonNeverPull).
func (r *Resolver) Resolve(namespace, pod, ref, policy string) (images.Image, error) {
	img, err := r.p.store.Get(ref)
	switch {
	case err == nil && (policy != "Always" || !img.Pulled):
		r.used(img)
		return img, nil
	case err != nil && !errors.Is(err, images.ErrNotFound):
		return images.Image{}, err
	case err != nil && policy == "Never":
		return images.Image{}, &PullError{reason: ReasonNeverPull,
			err: fmt.Errorf("image %q is not in the local store and imagePullPolicy is Never: pull it with `berth image pull` or import it with `berth image import`: %w", ref, err)}
	}
	t, err := parseRef(ref)
	if err != nil {
		return images.Image{}, &PullError{reason: ReasonErrPull, err: err}
	}
	key := askKey{namespace, pod, t.store}
	var creds *DockerConfig
	if r.o.Credentials != nil {
		if creds, err = r.o.Credentials(namespace, pod); err != nil {
			return images.Image{}, &PullError{reason: ReasonErrPull, err: fmt.Errorf("image %q: %w", t.store, err)}
		}
	}
	pk := pullKey{ref: t.store}
	if creds != nil {
		pk.creds = creds.ID()
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if op, ok := r.asked[key]; ok {
		select {
		case <-op.done:
			delete(r.asked, key)
			if op.err != nil {
				return images.Image{}, &PullError{reason: ReasonErrPull, err: op.err}
			}
			// Pulled after the lookup above, or pulled and removed
			// again since.
			if img, err := r.p.store.Get(ref); err == nil {
				r.used(img)
				return img, nil
			}
		default:
			return images.Image{}, &PullError{reason: ReasonPulling, err: fmt.Errorf("image %q: %w", t.store, ErrPulling)}
		}
	}
	if f, ok := r.failed[pk]; ok && r.now().Before(f.retryAt) {
		return images.Image{}, &PullError{reason: ReasonBackOff,
			err: fmt.Errorf("back-off pulling image %q until %s: %w", t.store, f.retryAt.Format(time.RFC3339), f.err)}
	}
	op, ok := r.pulls[pk]
	if !ok {
		op = &pullOp{done: make(chan struct{})}
		r.pulls[pk] = op
		go r.pull(pk, creds, op)
	}
	r.asked[key] = op
	r.o.Event(namespace, pod, kube.EventPulling, fmt.Sprintf("Pulling image %q", t.store))
	return images.Image{}, &PullError{reason: ReasonPulling, err: fmt.Errorf("image %q: %w", t.store, ErrPulling)}
}

// pull runs one background pull and records its outcome.
func (r *Resolver) pull(pk pullKey, creds *DockerConfig, op *pullOp) {
	ref := pk.ref
	res, err := r.p.PullWith(context.Background(), ref, r.o.Platform, nil, creds)
	r.mu.Lock()
	delete(r.pulls, pk)
	op.err = err
	close(op.done)
	if err != nil {
		f := r.failed[pk]
		if f == nil {
			f = &failure{}
			r.failed[pk] = f
		}
		f.count++
		wait := min(r.o.BackoffInitial<<min(f.count-1, 30), r.o.BackoffMax)
		f.retryAt, f.err = r.now().Add(wait), err
		time.AfterFunc(wait, r.o.Done)
		r.o.Log.Warn("image pull failed", "ref", ref, "err", err, "retry_in", wait)
	} else {
		delete(r.failed, pk)
	}
	var waiting []askKey
	for key, o := range r.asked {
		if o == op {
			waiting = append(waiting, key)
		}
	}
	r.mu.Unlock()
	r.o.Pulled(res, err)
	if err == nil {
		for _, w := range waiting {
			r.o.Event(w.namespace, w.pod, kube.EventPulled, fmt.Sprintf("Successfully pulled image %q in %s. Image size: %d bytes (%d downloaded).",
				ref, res.Duration.Round(time.Millisecond), res.Image.Size, res.Downloaded))
		}
	}
	r.o.Done()
}

// used records that a pod is created with img, for the garbage
// collector's oldest-used-first order.
func (r *Resolver) used(img images.Image) {
	if err := r.p.store.MarkUsed(img.ID, r.now()); err != nil {
		r.o.Log.Warn("record image use", "image", img.ID, "err", err)
	}
}
