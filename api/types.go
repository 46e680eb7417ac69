// Package api is the daemon's local API: Kubernetes-shaped pod objects (so
// that kubectl habits and jq scripts carry over), events, and the HTTP
// server and client that carry them over the daemon's unix socket.
package api

import (
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// Pod is a pod as `berth get pods -o json` prints it: a Kubernetes Pod,
// with no field Kubernetes lacks. What berth knows beyond Kubernetes rides
// where Kubernetes puts such facts: annotations under berth.io/ (the
// manifest file, the infra process) and status conditions (a manifest that
// stopped validating).
type Pod struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   ObjectMeta        `json:"metadata"`
	Spec       manifests.PodSpec `json:"spec"`
	Status     PodStatus         `json:"status"`
}

// ObjectMeta is a pod's metadata: the manifest's, and the time berth
// created the pod.
type ObjectMeta struct {
	manifests.ObjectMeta
	CreationTimestamp time.Time `json:"creationTimestamp,omitzero"`
}

// Annotations berth sets on the pods it shows.
const (
	// AnnotationFile is the manifest file that declares the pod.
	AnnotationFile = "berth.io/file"
	// AnnotationInfraPID is the host PID of the pod's infra process.
	AnnotationInfraPID = "berth.io/infra-pid"
)

// File is the manifest file that declares p ("" when unknown).
func (p Pod) File() string { return p.Metadata.Annotations[AnnotationFile] }

// InfraPID is the host PID of p's infra process (0 when none runs).
func (p Pod) InfraPID() int {
	pid, _ := strconv.Atoi(p.Metadata.Annotations[AnnotationInfraPID])
	return pid
}

// SetAnnotation sets one annotation on p's own copy of its annotations
// (the manifest's map is shared and never written).
func (p *Pod) SetAnnotation(key, value string) {
	a := make(map[string]string, len(p.Metadata.Annotations)+1)
	maps.Copy(a, p.Metadata.Annotations)
	a[key] = value
	p.Metadata.Annotations = a
}

// ConditionManifestValid is the condition berth adds to a pod whose
// manifest file no longer validates: False, with every problem in its
// message, one a line. The pod keeps running on its last good spec.
const ConditionManifestValid = "berth.io/ManifestValid"

// ManifestProblems lists the problems of p's manifest file, one per line
// of the ConditionManifestValid condition.
func (p Pod) ManifestProblems() []string {
	for _, c := range p.Status.Conditions {
		if c.Type == ConditionManifestValid && c.Status == ConditionFalse && c.Message != "" {
			return strings.Split(c.Message, "\n")
		}
	}
	return nil
}

// PodList is the answer to a list, as kubectl prints it.
type PodList struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []Pod  `json:"items"`
}

// Pod phases, as Kubernetes names them. Package kube holds the vocabulary
// the API shares with the runtime; the API names what its clients use.
const (
	PodPending   = kube.PodPending
	PodRunning   = kube.PodRunning
	PodSucceeded = kube.PodSucceeded
	PodFailed    = kube.PodFailed
)

// PodStatus mirrors the Kubernetes PodStatus fields berth fills.
type PodStatus struct {
	Phase                 string            `json:"phase"`
	Conditions            []PodCondition    `json:"conditions,omitempty"`
	Reason                string            `json:"reason,omitempty"`
	Message               string            `json:"message,omitempty"`
	HostIP                string            `json:"hostIP,omitempty"`
	HostIPs               []PodIP           `json:"hostIPs,omitempty"`
	PodIP                 string            `json:"podIP,omitempty"`
	PodIPs                []PodIP           `json:"podIPs,omitempty"`
	StartTime             *time.Time        `json:"startTime,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
	QOSClass              string            `json:"qosClass,omitempty"`
}

// PodIP is one pod (or host) address.
type PodIP struct {
	IP string `json:"ip"`
}

// PodCondition is one of the pod's conditions, as the kubelet reports
// them.
type PodCondition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	LastTransitionTime time.Time `json:"lastTransitionTime,omitzero"`
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
}

// The kubelet's condition the CLI reads, and condition statuses (kube's).
const (
	PodReady       = kube.PodReady
	ConditionTrue  = kube.ConditionTrue
	ConditionFalse = kube.ConditionFalse
)

// ContainerStatus mirrors the Kubernetes ContainerStatus.
type ContainerStatus struct {
	Name         string              `json:"name"`
	State        kube.ContainerState `json:"state"`
	LastState    kube.ContainerState `json:"lastState"`
	Ready        bool                `json:"ready"`
	RestartCount int32               `json:"restartCount"`
	Image        string              `json:"image"`
	ImageID      string              `json:"imageID"`
	ContainerID  string              `json:"containerID,omitempty"`
	Started      *bool               `json:"started,omitempty"`
}

// Event is something that happened to a pod (Created, Started, Killing,
// BackOff, OOMKilled, FailedValidation, ...), as `kubectl get events` shows.
// Repeats are folded into one event with a Count, seen first at FirstTime
// and last at Time.
type Event struct {
	Time      time.Time `json:"time"`
	FirstTime time.Time `json:"firstTime,omitzero"`
	Count     int32     `json:"count,omitempty"`
	Type      string    `json:"type"` // Normal or Warning
	Reason    string    `json:"reason"`
	Object    string    `json:"object"` // pod/namespace/name or file path
	Container string    `json:"container,omitempty"`
	Message   string    `json:"message"`
}

// Event types and reasons (kube's).
const (
	EventNormal  = kube.EventNormal
	EventWarning = kube.EventWarning

	EventCreated          = kube.EventCreated
	EventBackOff          = kube.EventBackOff
	EventFailedValidation = kube.EventFailedValidation
	EventImageNotFound    = kube.EventImageNotFound
	EventUnhealthy        = kube.EventUnhealthy
)

// PodObject is the Object of a pod's events.
func PodObject(namespace, name string) string { return "pod/" + namespace + "/" + name }
