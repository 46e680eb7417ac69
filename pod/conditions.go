package pod

import (
	"slices"
	"strings"
	"time"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// conditions computes the pod conditions the kubelet reports, in its
// order, from v's status; created is when berth took the pod on (the
// PodScheduled time, and the time of conditions that never changed).
func conditions(v View, created time.Time) []Condition {
	since := created
	started := since
	if v.StartTime != nil {
		started = *v.StartTime
	}
	cond := func(typ string, ok bool, at time.Time, reason, msg string) Condition {
		c := Condition{Type: typ, Status: kube.ConditionTrue, LastTransitionTime: at}
		if !ok {
			c.Status, c.Reason, c.Message = kube.ConditionFalse, reason, msg
		}
		return c
	}

	byName := map[string]ContainerView{}
	for _, c := range append(slices.Clone(v.InitContainers), v.Containers...) {
		byName[c.Name] = c
	}

	// The regular containers started: every init container was through.
	appsRan := slices.ContainsFunc(v.Containers, func(c ContainerView) bool { return ran(c.State, c.LastState) })
	initAt, notInit := started, []string(nil)
	for i := range v.Spec.InitContainers {
		spec := &v.Spec.InitContainers[i]
		c := byName[spec.Name]
		if manifests.IsSidecar(spec) {
			// A sidecar is through once started.
			if r := c.State.Running; r != nil && c.Started != nil && *c.Started {
				initAt = later(initAt, later(r.StartedAt, c.ProbedAt))
				continue
			}
			if appsRan {
				continue
			}
		} else if t := c.State.Terminated; t != nil && t.ExitCode == 0 {
			initAt = later(initAt, t.FinishedAt)
			continue
		}
		notInit = append(notInit, spec.Name)
	}
	if len(v.Spec.InitContainers) == 0 {
		initAt = since
	}

	// The regular containers and the sidecars must be ready, as in
	// Kubernetes, where a sidecar's readiness probe counts for the pod.
	readyAt, notReady := started, []string(nil)
	for _, spec := range sidecarsAndApps(&v.Spec) {
		c, ok := byName[spec.Name]
		switch {
		case !ok:
			notReady = append(notReady, spec.Name)
		case c.Ready && c.State.Running != nil:
			readyAt = later(later(readyAt, c.State.Running.StartedAt), c.ProbedAt)
		case c.State.Terminated != nil:
			readyAt = later(readyAt, c.State.Terminated.FinishedAt)
			notReady = append(notReady, c.Name)
		default:
			if t := c.LastState.Terminated; t != nil {
				readyAt = later(readyAt, t.FinishedAt)
			}
			// A running container its probes hold unready.
			readyAt = later(readyAt, c.ProbedAt)
			notReady = append(notReady, c.Name)
		}
	}
	ready := len(notReady) == 0 && len(v.Spec.Containers) > 0
	reason, msg := "ContainersNotReady", "containers with unready status: ["+strings.Join(notReady, " ")+"]"
	if v.Phase == kube.PodSucceeded || v.Phase == kube.PodFailed {
		reason, msg = "PodCompleted", ""
	}
	return []Condition{
		cond(kube.PodReadyToStartContainers, v.StartTime != nil, started, "", ""),
		cond(kube.PodInitialized, len(notInit) == 0, initAt, "ContainersNotInitialized",
			"containers with incomplete status: ["+strings.Join(notInit, " ")+"]"),
		cond(kube.PodReady, ready, readyAt, reason, msg),
		cond(kube.ContainersReady, ready, readyAt, reason, msg),
		cond(kube.PodScheduled, true, since, "", ""),
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
