package probe

import (
	"fmt"
	"time"

	"github.com/berth-project/berth/manifests"
)

// The kubelet's defaults for a probe's unset (zero) fields.
const (
	DefaultPeriod           = 10 * time.Second
	DefaultTimeout          = 1 * time.Second
	DefaultSuccessThreshold = 1
	DefaultFailureThreshold = 3
)

// Spec is a probe's timing and thresholds, defaults applied.
type Spec struct {
	Type             Type
	InitialDelay     time.Duration
	Period           time.Duration
	Timeout          time.Duration
	SuccessThreshold int
	FailureThreshold int
	// GracePeriodSeconds is the probe-level terminationGracePeriodSeconds
	// (liveness and startup only); nil means the pod's.
	GracePeriodSeconds *int64
}

// NewSpec returns the spec of probe p of type t with the kubelet's defaults,
// or an error naming the field (relative to the probe) that Kubernetes'
// validation would refuse.
func NewSpec(t Type, p *manifests.Probe) (Spec, error) {
	s := Spec{
		Type:               t,
		InitialDelay:       time.Duration(p.InitialDelaySeconds) * time.Second,
		Period:             seconds(p.PeriodSeconds, DefaultPeriod),
		Timeout:            seconds(p.TimeoutSeconds, DefaultTimeout),
		SuccessThreshold:   count(p.SuccessThreshold, DefaultSuccessThreshold),
		FailureThreshold:   count(p.FailureThreshold, DefaultFailureThreshold),
		GracePeriodSeconds: p.TerminationGracePeriodSeconds,
	}
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds},
		{"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds},
		{"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		if f.v < 0 {
			return Spec{}, fmt.Errorf("%s: must be 0 or more, got %d", f.name, f.v)
		}
	}
	if t != Readiness && s.SuccessThreshold != 1 {
		return Spec{}, fmt.Errorf("successThreshold: must be 1 for a %s probe, got %d", t, s.SuccessThreshold)
	}
	if g := p.TerminationGracePeriodSeconds; g != nil {
		if t == Readiness {
			return Spec{}, fmt.Errorf("terminationGracePeriodSeconds: must not be set for a Readiness probe")
		}
		if *g <= 0 {
			return Spec{}, fmt.Errorf("terminationGracePeriodSeconds: must be greater than 0, got %d", *g)
		}
	}
	return s, nil
}

func seconds(v int32, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return time.Duration(v) * time.Second
}

func count(v int32, def int) int {
	if v == 0 {
		return def
	}
	return int(v)
}
