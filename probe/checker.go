package probe

import (
	"context"
	"errors"
	"time"

	"github.com/berth-project/berth/manifests"
)

// Checker runs one probe once. It returns the result and the output the
// kubelet would put in its event ("HTTP probe failed with statuscode: 500",
// `Get "http://10.0.0.5:8080/healthz": dial tcp 10.0.0.5:8080: connect:
// connection refused`). timeout is the probe's timeoutSeconds; a checker
// also stops when ctx is done.
type Checker interface {
	Check(ctx context.Context, timeout time.Duration) (Result, string)
}

// DefaultUserAgent is the User-Agent of http probes (and of grpc probes)
// when Target.UserAgent is empty: "kube-probe/" as the kubelet's, which some
// servers recognise.
const DefaultUserAgent = "kube-probe/berth"

// Target is what a probe of a container needs besides its handler.
type Target struct {
	// PodIP is the default host of http probes and the host of tcp and
	// grpc probes without one.
	PodIP string
	// Ports are the container's ports, for named probe ports.
	Ports []manifests.ContainerPort
	// Dialer opens every connection: a NetnsDialer for the pod's network
	// namespace, HostDialer for a host-network pod.
	Dialer Dialer
	// Exec runs exec probes; nil when the wiring has none.
	Exec Execer
	// UserAgent overrides DefaultUserAgent.
	UserAgent string
}

// NewChecker returns the checker of the probe handler h (exactly one
// action set, as validation ensures) for target t.
func NewChecker(h manifests.ProbeHandler, t Target) (Checker, error) {
	if t.UserAgent == "" {
		t.UserAgent = DefaultUserAgent
	}
	needDialer := h.HTTPGet != nil || h.TCPSocket != nil || h.GRPC != nil
	if needDialer && t.Dialer == nil {
		return nil, errors.New("probe target has no dialer")
	}
	switch {
	case h.HTTPGet != nil:
		return newHTTPChecker(*h.HTTPGet, t), nil
	case h.TCPSocket != nil:
		return &tcpChecker{action: *h.TCPSocket, target: t}, nil
	case h.GRPC != nil:
		return &grpcChecker{action: *h.GRPC, target: t}, nil
	case h.Exec != nil:
		if t.Exec == nil {
			return nil, errors.New("exec probes need an Execer")
		}
		return &execChecker{cmd: h.Exec.Command, exec: t.Exec}, nil
	}
	return nil, errors.New("probe has no action: set one of exec, httpGet, tcpSocket, grpc")
}
