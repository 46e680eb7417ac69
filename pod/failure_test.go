package pod

import (
	"errors"
	"fmt"
	"testing"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/netsetup"
)

func TestFailureReason(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"image", fmt.Errorf("create: %w", &imageError{container: "c", image: "x", err: errors.New("not found")}), api.ReasonImageNotFound},
		{"host port", fmt.Errorf("set up network: %w", &netsetup.PortConflictError{Port: 80, Proto: "TCP", Owner: "default_a"}), api.ReasonHostPortInUse},
		{"no address", fmt.Errorf("lease IP: %w", netsetup.ErrRangeExhausted), api.ReasonNoPodIP},
		{"joined with an undo error", errors.Join(fmt.Errorf("x: %w", netsetup.ErrRangeExhausted), errors.New("undo")), api.ReasonNoPodIP},
		{"no memory controller", fmt.Errorf("create cgroup of container c: %w: memory", cgroups.ErrControllerMissing), api.ReasonControllerMissing},
		{"other", errors.New("mount failed"), api.ReasonCreateFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := failureReason(tc.err); got != tc.want {
				t.Errorf("failureReason(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
