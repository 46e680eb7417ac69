package metrics

import (
	"context"
	"time"

	"github.com/berth-project/berth/cgroups"
)

// Source lists what a scrape reports. The daemon implements it over its pod
// manager; it is called once per scrape.
type Source interface {
	Pods(ctx context.Context) ([]Pod, error)
}

// Pod is one pod as a scrape sees it.
type Pod struct {
	Namespace, Name, UID string
	// Phase is the Kubernetes pod phase (kube.PodRunning, ...).
	Phase string
	// Cgroup is the pod cgroup (cAdvisor's series with container="").
	Cgroup cgroups.StatsDirs
	// NetPID is a process in the pod's network namespace (its infra), whose
	// /proc/<pid>/net/dev holds the pod's interface counters; 0 when the
	// pod shares the host's network or has no infra running.
	NetPID int
	// NetInterface is the pod's own interface in that namespace, the only
	// one reported.
	NetInterface string
	Containers   []Container
}

// Container is one container of a pod, init containers included.
type Container struct {
	Name, Image string
	// State is "running", "waiting" or "terminated".
	State    string
	Restarts int
	// StartedAt is when the current run started; zero unless running.
	StartedAt time.Time
	Cgroup    cgroups.StatsDirs
	// Layer is the container's writable layer (the overlay's upper
	// directory); "" when it has none.
	Layer string
}

// Container states, as the Kubernetes ContainerState members are named.
const (
	StateRunning    = "running"
	StateWaiting    = "waiting"
	StateTerminated = "terminated"
)

// Node is what a scrape reports of the machine.
type Node struct {
	CPUs        int
	MemoryBytes uint64
}
