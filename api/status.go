package api

import (
	"strconv"
	"strings"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// Settled reports whether a pod has reached a state `berth apply` stops
// waiting at: every container running (or the pod finished), or a reason
// why it cannot get there (invalid manifest, start failure, crash loop).
func Settled(p Pod) bool {
	switch p.Status.Phase {
	case PodSucceeded, PodFailed:
		return true
	case PodRunning:
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Running == nil && c.State.Terminated == nil {
				return c.State.Waiting != nil && isFailureReason(c.State.Waiting.Reason)
			}
		}
		return true
	}
	if isFailureReason(p.Status.Reason) {
		return true
	}
	for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if c.State.Waiting != nil && isFailureReason(c.State.Waiting.Reason) {
			return true
		}
	}
	return false
}

// PodBrief is what apply needs to know of a pod to stop waiting for it:
// the reconcile pass's answer (POST /v1/reconcile?pod=...) holds one per
// pod named, so small that a fresh CLI process decodes it at once (its
// first decode of a whole Pod costs it about 0.6 ms).
type PodBrief struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Phase     string `json:"phase"`
	// Status is DisplayStatus's.
	Status  string `json:"status"`
	Settled bool   `json:"settled"`
	// ReadinessProbed says a container has a readiness probe; Ready is
	// the pod's Ready condition.
	ReadinessProbed bool `json:"readinessProbed"`
	Ready           bool `json:"ready"`
}

// Brief is p's PodBrief.
func Brief(p Pod) PodBrief {
	return PodBrief{Namespace: p.Metadata.Namespace, Name: p.Metadata.Name, Phase: p.Status.Phase,
		Status: DisplayStatus(p), Settled: Settled(p), ReadinessProbed: HasReadinessProbe(p), Ready: IsReady(p)}
}

// Arrived says whether apply is done with the pod: settled, running (and
// Ready, with a readiness probe) or completed, and not in a back-off.
func (b PodBrief) Arrived() bool {
	switch {
	case !b.Settled || strings.Contains(b.Status, "BackOff"):
		return false
	case b.Phase == PodRunning:
		return !b.ReadinessProbed || b.Ready
	}
	return b.Phase == PodSucceeded
}

// ReadinessProbed names the containers of p, its sidecars included, that
// have a readiness probe.
func ReadinessProbed(p Pod) []string {
	var out []string
	for i := range p.Spec.InitContainers {
		if c := &p.Spec.InitContainers[i]; manifests.IsSidecar(c) && c.ReadinessProbe != nil {
			out = append(out, c.Name)
		}
	}
	for i := range p.Spec.Containers {
		if c := &p.Spec.Containers[i]; c.ReadinessProbe != nil {
			out = append(out, c.Name)
		}
	}
	return out
}

// HasReadinessProbe says whether a container of p, a sidecar included,
// has a readiness probe: apply then waits for the pod to be Ready, as
// `kubectl wait --for=condition=Ready` does.
func HasReadinessProbe(p Pod) bool { return len(ReadinessProbed(p)) > 0 }

// IsReady says whether p's Ready condition is True.
func IsReady(p Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == PodReady {
			return c.Status == ConditionTrue
		}
	}
	return false
}

// ReadySettled says whether waiting for p to be Ready is over: it is
// Ready, it is no longer running (it ended, or never started), or a
// container of it failed in a way waiting does not mend (Settled's
// reasons, such as CrashLoopBackOff).
func ReadySettled(p Pod) bool {
	if !Settled(p) {
		return false
	}
	if p.Status.Phase != PodRunning || IsReady(p) || isFailureReason(p.Status.Reason) {
		return true
	}
	for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if c.State.Waiting != nil && isFailureReason(c.State.Waiting.Reason) {
			return true
		}
	}
	return false
}

// Reasons that mean "this will not become Running by waiting" (kube's).
const (
	ReasonInvalidManifest   = kube.ReasonInvalidManifest
	ReasonCreateFailed      = kube.ReasonCreateFailed
	ReasonCrashLoopBackOff  = kube.ReasonCrashLoopBackOff
	ReasonImageNotFound     = kube.ReasonImageNotFound
	ReasonErrImagePull      = kube.ReasonErrImagePull
	ReasonImagePullBackOff  = kube.ReasonImagePullBackOff
	ReasonStartError        = kube.ReasonStartError
	ReasonHostPortInUse     = kube.ReasonHostPortInUse
	ReasonNoPodIP           = kube.ReasonNoPodIP
	ReasonControllerMissing = kube.ReasonControllerMissing
	ReasonClaimInUse        = kube.ReasonClaimInUse
	ReasonDependencyCycle   = kube.ReasonDependencyCycle
	ReasonDependencyMissing = kube.ReasonDependencyMissing
)

func isFailureReason(r string) bool {
	switch r {
	case ReasonInvalidManifest, ReasonCreateFailed, ReasonCrashLoopBackOff, ReasonImageNotFound, ReasonStartError,
		ReasonHostPortInUse, ReasonNoPodIP, ReasonControllerMissing, ReasonErrImagePull, ReasonImagePullBackOff,
		ReasonClaimInUse, ReasonDependencyCycle, ReasonDependencyMissing:
		return true
	}
	return false
}

// DisplayStatus is the STATUS column of `berth get pods`, computed as
// kubectl does: the pod's reason, else the most telling container state
// (init containers first, as "Init:N/M"), else the phase.
func DisplayStatus(p Pod) string {
	if p.Status.Reason != "" {
		return p.Status.Reason
	}
	st := p.Status
	sidecars := sidecarNames(p)
	for i, c := range st.InitContainerStatuses {
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case sidecars[c.Name] && (c.Started != nil && *c.Started || st.Phase != PodPending):
			// A sidecar that started, or one stopped once the pod ended.
			continue
		case c.State.Terminated != nil:
			return "Init:" + reasonOr(c.State.Terminated.Reason, "Error")
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			return "Init:" + c.State.Waiting.Reason
		default:
			return "Init:" + itoa(i) + "/" + itoa(len(st.InitContainerStatuses))
		}
	}
	reason := st.Phase
	running := false
	for i := len(st.ContainerStatuses) - 1; i >= 0; i-- {
		c := st.ContainerStatuses[i]
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			reason = c.State.Waiting.Reason
		case c.State.Terminated != nil && c.State.Terminated.Reason != "":
			reason = c.State.Terminated.Reason
		case c.State.Terminated != nil && c.State.Terminated.Signal != 0:
			reason = "Signal:" + itoa(int(c.State.Terminated.Signal))
		case c.State.Terminated != nil:
			reason = "ExitCode:" + itoa(int(c.State.Terminated.ExitCode))
		case c.State.Running != nil:
			running = true
		}
	}
	if reason == "Completed" && running {
		reason = PodRunning
	}
	return reason
}

// ReadyCount is the READY column: ready containers over all containers,
// sidecars included, as kubectl counts them.
func ReadyCount(p Pod) (ready, total int) {
	sidecars := sidecarNames(p)
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars[c.Name] && c.Ready {
			ready++
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
	}
	total = len(p.Spec.Containers) + len(sidecars)
	return ready, total
}

// Restarts is the RESTARTS column: the sum over containers and sidecars.
func Restarts(p Pod) int {
	n := 0
	sidecars := sidecarNames(p)
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars[c.Name] {
			n += int(c.RestartCount)
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		n += int(c.RestartCount)
	}
	return n
}

// sidecarNames names the pod's sidecar init containers.
func sidecarNames(p Pod) map[string]bool {
	out := map[string]bool{}
	for i := range p.Spec.InitContainers {
		if c := &p.Spec.InitContainers[i]; manifests.IsSidecar(c) {
			out[c.Name] = true
		}
	}
	return out
}

func reasonOr(r, def string) string {
	if r == "" {
		return def
	}
	return r
}

func itoa(i int) string {
	return strconv.Itoa(i)
}
