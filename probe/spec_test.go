package probe

import (
	"reflect"
	"testing"
	"time"

	"github.com/berth-project/berth/manifests"
)

func TestNewSpec(t *testing.T) {
	tests := []struct {
		name    string
		typ     Type
		probe   manifests.Probe
		want    Spec
		wantErr string
	}{
		{"defaults", Liveness, manifests.Probe{},
			Spec{Type: Liveness, Period: 10 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}, ""},
		{"all set", Readiness, manifests.Probe{InitialDelaySeconds: 4, TimeoutSeconds: 2, PeriodSeconds: 3, SuccessThreshold: 2, FailureThreshold: 5},
			Spec{Type: Readiness, InitialDelay: 4 * time.Second, Period: 3 * time.Second, Timeout: 2 * time.Second, SuccessThreshold: 2, FailureThreshold: 5}, ""},
		{"grace period", Startup, manifests.Probe{TerminationGracePeriodSeconds: int64p(7)},
			Spec{Type: Startup, Period: 10 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3, GracePeriodSeconds: int64p(7)}, ""},
		{"liveness successThreshold", Liveness, manifests.Probe{SuccessThreshold: 2}, Spec{}, "successThreshold: must be 1 for a Liveness probe, got 2"},
		{"startup successThreshold", Startup, manifests.Probe{SuccessThreshold: 3}, Spec{}, "successThreshold: must be 1 for a Startup probe, got 3"},
		{"negative", Readiness, manifests.Probe{PeriodSeconds: -1}, Spec{}, "periodSeconds: must be 0 or more, got -1"},
		{"readiness grace period", Readiness, manifests.Probe{TerminationGracePeriodSeconds: int64p(3)}, Spec{}, "terminationGracePeriodSeconds: must not be set for a Readiness probe"},
		{"zero grace period", Liveness, manifests.Probe{TerminationGracePeriodSeconds: int64p(0)}, Spec{}, "terminationGracePeriodSeconds: must be greater than 0, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewSpec(tt.typ, &tt.probe)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if !reflect.DeepEqual(got, tt.want) || gotErr != tt.wantErr {
				t.Errorf("got %+v, %q; want %+v, %q", got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}
