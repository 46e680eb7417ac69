package pod

import (
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/manifests"
)

// key is a pod's "namespace/name", as errors name it and as logs spell the
// "pod" attribute everywhere.
func key(p *manifests.Pod) string { return p.Namespace + "/" + p.Name }

// maxHostname is the longest hostname a UTS namespace takes.
const maxHostname = 63

// Hostname is the pod's hostname as kubelet computes it: spec.hostname, or
// the pod's name cut to 63 bytes without a trailing '-' or '.'.
func Hostname(p *manifests.Pod) string {
	if p.Spec.Hostname != "" {
		return p.Spec.Hostname
	}
	h := p.Name
	if len(h) > maxHostname {
		h = strings.TrimRight(h[:maxHostname], "-.")
	}
	return h
}

// Layout is where a pod's files live.
type Layout struct {
	State string // <state>/pods/<id>: record, volumes, container layers
	Run   string // <run>/pods/<id>: infra socket
	Logs  string // <log>/<ns>_<name>_<uid>: container logs
}

// NewLayout derives a pod's directories from the daemon's.
func NewLayout(stateDir, runDir, logDir, namespace, name, uid string) Layout {
	id := podid.ID(namespace, name)
	logs := namespace + "_" + name + "_" + uid
	if len(logs) > maxFileName {
		logs = podid.KernelID(id) + "_" + uid
	}
	return Layout{
		State: filepath.Join(stateDir, "pods", podid.KernelID(id)),
		Run:   filepath.Join(runDir, "pods", podid.RunKey(id)),
		Logs:  filepath.Join(logDir, logs),
	}
}

// maxFileName is the longest name of one directory entry (NAME_MAX).
const maxFileName = 255

// ContainerDir holds a container's overlay upper, work and mount-point dirs.
func (l Layout) ContainerDir(name string) string { return filepath.Join(l.State, "containers", name) }

// TerminationMessageFile is the host side of a container's
// terminationMessagePath; the infra makes it empty before each run.
func (l Layout) TerminationMessageFile(name string) string {
	return filepath.Join(l.ContainerDir(name), "termination-log")
}

// EtcDir holds the pod's generated hosts, resolv.conf and hostname files.
func (l Layout) EtcDir() string { return filepath.Join(l.State, "etc") }

// VolumesDir is the root of the pod's volumes.
func (l Layout) VolumesDir() string { return filepath.Join(l.State, "volumes") }

// SeccompFile holds a compiled seccomp program the pod's containers start
// with, named by its digest (writeFilterFiles).
func (l Layout) SeccompFile(digest string) string {
	return filepath.Join(l.Run, "seccomp", digest+".bpf")
}

// Socket is the infra's API socket.
func (l Layout) Socket() string { return filepath.Join(l.Run, "infra.sock") }
