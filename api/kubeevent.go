package api

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// KubeEvent is an Event as a Kubernetes v1 Event, the shape `berth get
// events -o json` prints (kubectl's `get events -o json`): what the event
// is about in involvedObject (a pod, with the container as its fieldPath,
// or a manifest file), repeats as count between firstTimestamp and
// lastTimestamp.
type KubeEvent struct {
	APIVersion         string          `json:"apiVersion"`
	Kind               string          `json:"kind"`
	Metadata           EventMeta       `json:"metadata"`
	InvolvedObject     ObjectReference `json:"involvedObject"`
	Reason             string          `json:"reason"`
	Message            string          `json:"message"`
	Source             EventSource     `json:"source"`
	FirstTimestamp     time.Time       `json:"firstTimestamp"`
	LastTimestamp      time.Time       `json:"lastTimestamp"`
	Count              int32           `json:"count"`
	Type               string          `json:"type"`
	ReportingComponent string          `json:"reportingComponent"`
	ReportingInstance  string          `json:"reportingInstance,omitempty"`
}

// EventMeta is an event's metadata.
type EventMeta struct {
	Name              string    `json:"name"`
	Namespace         string    `json:"namespace"`
	CreationTimestamp time.Time `json:"creationTimestamp"`
}

// ObjectReference names what an event is about.
type ObjectReference struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
	FieldPath  string `json:"fieldPath,omitempty"`
}

// EventSource is the component that reported an event, and on which host.
type EventSource struct {
	Component string `json:"component"`
	Host      string `json:"host,omitempty"`
}

// EventList is a list of events, as kubectl prints one.
type EventList struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Items      []KubeEvent `json:"items"`
}

// KindManifestFile is the involvedObject kind of an event about a manifest
// file rather than a pod (FailedValidation): its name is the file's path.
const KindManifestFile = "ManifestFile"

// Component is the reporting component of berth's events.
const Component = "berth"

// KubeEvents converts events to Kubernetes v1 Events. pods, the pods the
// daemon knows, give the involved pods' UIDs and tell init containers
// from the others; host is the node's name. A file's events are in the
// default namespace, as Kubernetes keeps those of objects outside any.
func KubeEvents(evs []Event, pods []Pod, host string) EventList {
	byObject := map[string]Pod{}
	for _, p := range pods {
		byObject[PodObject(p.Metadata.Namespace, p.Metadata.Name)] = p
	}
	out := EventList{APIVersion: "v1", Kind: "List", Items: make([]KubeEvent, 0, len(evs))}
	for _, e := range evs {
		out.Items = append(out.Items, kubeEvent(e, byObject, host))
	}
	return out
}

func kubeEvent(e Event, pods map[string]Pod, host string) KubeEvent {
	firstSeen := e.FirstTime
	if firstSeen.IsZero() {
		firstSeen = e.Time
	}
	first := kubeTime(firstSeen)
	ref := ObjectReference{Kind: KindManifestFile, Name: e.Object}
	namespace, name := "default", filepath.Base(e.Object)
	if rest, ok := strings.CutPrefix(e.Object, "pod/"); ok {
		if ns, pod, ok := strings.Cut(rest, "/"); ok {
			ref = ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: pod}
			namespace, name = ns, pod
			p, known := pods[e.Object]
			if known {
				ref.UID = p.Metadata.UID
			}
			if e.Container != "" {
				ref.FieldPath = "spec.containers{" + e.Container + "}"
				if known && isInitContainer(p, e.Container) {
					ref.FieldPath = "spec.initContainers{" + e.Container + "}"
				}
			}
		}
	}
	return KubeEvent{
		APIVersion: "v1", Kind: "Event",
		// Named as the kubelet names them: the object, then the first
		// time in hex nanoseconds, so a repeat keeps its name.
		Metadata:       EventMeta{Name: name + "." + strconv.FormatInt(firstSeen.UnixNano(), 16), Namespace: namespace, CreationTimestamp: first},
		InvolvedObject: ref,
		Reason:         e.Reason, Message: e.Message,
		Source:         EventSource{Component: Component, Host: host},
		FirstTimestamp: first, LastTimestamp: kubeTime(e.Time), Count: max(e.Count, 1), Type: e.Type,
		ReportingComponent: Component, ReportingInstance: host,
	}
}

func isInitContainer(p Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}
