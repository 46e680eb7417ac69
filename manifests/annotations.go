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
	// AnnotationRestartOnChange lists what restarts the containers that
	// use it when its content changes: "configmaps" and "secrets" (those
	// of the container's env and envFrom), "hostpaths" (a hostPath volume
	// that is a file, for the containers that mount it).
	AnnotationRestartOnChange = "berth.io/restart-on-change"
)

// What AnnotationRestartOnChange may list.
const (
	RestartOnConfigMaps = "configmaps"
	RestartOnSecrets    = "secrets"
	RestartOnHostPaths  = "hostpaths"
)

// RestartOnChange returns what p's berth.io/restart-on-change lists. The
// restart is a kill whose exit the restart policy follows, so the pod's
// restartPolicy must be Always: under OnFailure a container that exits 0
// on SIGTERM, and under Never every container, would stay stopped.
func RestartOnChange(p *Pod) (map[string]bool, error) {
	v, ok := p.Annotations[AnnotationRestartOnChange]
	if !ok {
		return nil, nil
	}
	if rp := p.Spec.RestartPolicy; rp != "" && rp != "Always" {
		return nil, fmt.Errorf("needs restartPolicy Always, not %s: a container the change stops would not run again; remove the annotation or set spec.restartPolicy: Always", rp)
	}
	out := map[string]bool{}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		switch item {
		case RestartOnConfigMaps, RestartOnSecrets, RestartOnHostPaths:
			out[item] = true
		default:
			return nil, fmt.Errorf("%q is not something berth restarts on: list configmaps, secrets or hostpaths, separated by commas", clip(item))
		}
	}
	return out, nil
}

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
	if _, err := RestartOnChange(p); err != nil {
		v.errf(joinKey(path, AnnotationRestartOnChange), "%v", err)
	}
	for _, k := range []string{AnnotationRolloutDeadline, AnnotationMinReady} {
		if _, err := DurationAnnotation(p, k, 0); err != nil {
			v.errf(joinKey(path, k), "%v", err)
		}
	}
}
