package pod

import (
	"errors"
	"time"

	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// View is what the runtime shows of a pod: its metadata (with the UID
// berth gave it) and spec, its status computed as Kubernetes does, and
// berth's own facts. The daemon serves it in the API's Kubernetes shape.
type View struct {
	Meta manifests.ObjectMeta
	Spec manifests.PodSpec

	Phase   string
	Reason  string
	Message string
	// IP is the pod's address, "" before it has one.
	IP string
	// StartTime is when the infra was told to start the containers.
	StartTime      *time.Time
	InitContainers []ContainerView
	Containers     []ContainerView

	// File is the manifest the pod comes from, InfraPID its infra process,
	// Problems what is wrong with it or its manifest, Created when its
	// creation (or the failed attempt shown) began.
	File     string
	InfraPID int
	Problems []string
	Created  time.Time
}

// ContainerView is the status of one container, as Kubernetes' container
// status has it.
type ContainerView struct {
	Name         string
	State        kube.ContainerState
	LastState    kube.ContainerState
	Ready        bool
	RestartCount int32
	Image        string
	ImageID      string
	ContainerID  string
	Started      *bool
}

// Event is something that happened to a pod (kube's Event* reasons).
// Repeats the infra folded carry a Count, seen first at FirstTime.
type Event struct {
	Time      time.Time
	FirstTime time.Time
	Count     int32
	Type      string
	Reason    string
	Namespace string
	Name      string
	Container string
	Message   string
}

var (
	// ErrNotFound is wrapped by errors about a pod or container that does
	// not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotRunning is wrapped by errors about a container that exists but
	// does not run.
	ErrNotRunning = errors.New("container is not running")
)
