package pod

import (
	"errors"
	"fmt"
	"testing"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/netsetup"
)

func TestFailureReason(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"image", fmt.Errorf("create: %w", &imageError{container: "c", image: "x", err: fmt.Errorf("image x: %w", images.ErrNotFound)}), kube.ReasonImageNotFound},
		{"image store unreadable", fmt.Errorf("create: %w", &imageError{container: "c", image: "x", err: errors.New("open lock: too many open files")}), kube.ReasonCreateFailed},
		{"host port", fmt.Errorf("set up network: %w", &netsetup.PortConflictError{Port: 80, Proto: "TCP", Owner: "default_a"}), kube.ReasonHostPortInUse},
		{"no address", fmt.Errorf("lease IP: %w", netsetup.ErrRangeExhausted), kube.ReasonNoPodIP},
		{"claim held", fmt.Errorf("prepare volumes: %w", ErrClaimHeld), kube.ReasonClaimInUse},
		{"joined with an undo error", errors.Join(fmt.Errorf("x: %w", netsetup.ErrRangeExhausted), errors.New("undo")), kube.ReasonNoPodIP},
		{"no memory controller", fmt.Errorf("create cgroup of container c: %w: memory", cgroups.ErrControllerMissing), kube.ReasonControllerMissing},
		{"other", errors.New("mount failed"), kube.ReasonCreateFailed},
		{"pulling", fmt.Errorf("create: %w", &imageError{container: "c", image: "x", err: reasonedErr{"x", kube.ReasonContainerCreating}}), kube.ReasonContainerCreating},
		{"pull failed", fmt.Errorf("create: %w", &imageError{container: "c", image: "x", err: reasonedErr{"x", kube.ReasonErrImagePull}}), kube.ReasonErrImagePull},
		{"pull back-off", fmt.Errorf("create: %w", &imageError{container: "c", image: "x", err: reasonedErr{"x", kube.ReasonImagePullBackOff}}), kube.ReasonImagePullBackOff},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := failureReason(tc.err); got != tc.want {
				t.Errorf("failureReason(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// reasonedErr is an ImageSource's error with its status reason.
type reasonedErr struct{ image, reason string }

func (e reasonedErr) Error() string  { return "image " + e.image + ": " + e.reason }
func (e reasonedErr) Reason() string { return e.reason }

func TestImageErrorMessage(t *testing.T) {
	missing := &imageError{container: "c", image: "x", err: images.ErrNotFound}
	pulling := &imageError{container: "c", image: "x", err: reasonedErr{"x", kube.ReasonContainerCreating}}
	if got := missing.Error(); got != "container c: image \"x\" is not in the local store: import it with `berth image import` (image not found)" {
		t.Errorf("missing: %s", got)
	}
	if got := pulling.Error(); got != "container c: image x: ContainerCreating" {
		t.Errorf("pulling: %s", got)
	}
	volume := &imageError{volume: "tools", image: "x", err: images.ErrNotFound}
	if got := volume.Error(); got != "volume tools: image \"x\" is not in the local store: import it with `berth image import` (image not found)" {
		t.Errorf("volume: %s", got)
	}
	unreadable := &imageError{container: "c", image: "x", err: errors.New("open lock: too many open files")}
	if got := unreadable.Error(); got != "container c: image \"x\": read the local store: open lock: too many open files" {
		t.Errorf("unreadable: %s", got)
	}
}
