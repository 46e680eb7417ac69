package manifests

import (
	"fmt"
	"strings"
	"time"
)

// berth's own pod annotations: how a pod's start waits for other pods and
// how a spec change is gated (package reconciler decides; README lists
// them for users).
const (
	// AnnotationAfter names pods ("ns/name" or "name", same namespace;
	// comma-separated) that must be Ready before this pod starts.
	AnnotationAfter = "berth.io/after"
	// AnnotationRolloutDeadline is how long a changed spec has to become
	// ready before berth returns the pod to its last good spec (a Go
	// duration: "90s", "5m").
	AnnotationRolloutDeadline = "berth.io/rollout-deadline"
	// AnnotationMinReady is how long a container without a readiness
	// probe must run for a changed spec to count as good.
	AnnotationMinReady = "berth.io/min-ready"
)

// PodRef names a pod.
type PodRef struct{ Namespace, Name string }

func (r PodRef) String() string { return r.Namespace + "/" + r.Name }

// After returns the pods p's berth.io/after annotation names, in its
// order, without repeats; a name without namespace is in p's.
func After(p *Pod) ([]PodRef, error) {
	v, ok := p.Annotations[AnnotationAfter]
	if !ok {
		return nil, nil
	}
	var out []PodRef
	seen := map[PodRef]bool{}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		ns, name, found := strings.Cut(item, "/")
		if !found {
			ns, name = p.Namespace, item
		}
		if checkDNS1123Label(ns) != "" || checkDNS1123Subdomain(name) != "" {
			return nil, fmt.Errorf("%q is not a pod: use NAME or NAMESPACE/NAME, separated by commas", clip(item))
		}
		r := PodRef{ns, name}
		if r == (PodRef{p.Namespace, p.Name}) {
			return nil, fmt.Errorf("the pod cannot wait for itself")
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// DurationAnnotation returns the duration annotation key of p holds, or
// def when p does not have it.
func DurationAnnotation(p *Pod, key string, def time.Duration) (time.Duration, error) {
	v, ok := p.Annotations[key]
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return def, fmt.Errorf("%q is not a duration: use one like \"30s\" or \"5m\"", clip(v))
	}
	return d, nil
}

// berthAnnotations checks the values of berth's own annotations.
func (v *validator) berthAnnotations(p *Pod, path string) {
	if _, err := After(p); err != nil {
		v.errf(joinKey(path, AnnotationAfter), "%v", err)
	}
	for _, k := range []string{AnnotationRolloutDeadline, AnnotationMinReady} {
		if _, err := DurationAnnotation(p, k, 0); err != nil {
			v.errf(joinKey(path, k), "%v", err)
		}
	}
}
