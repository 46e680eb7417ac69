package netsetup

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// hostPort is a validated PortMapping: proto "tcp" or "udp"; hostIP is the
// zero Addr for "every host address".
type hostPort struct {
	proto         string
	hostIP        netip.Addr
	hostPort      uint16
	containerPort uint16
}

func (h hostPort) String() string {
	ip := "0.0.0.0"
	if h.hostIP.IsValid() {
		ip = h.hostIP.String()
	}
	return fmt.Sprintf("%s:%d/%s", ip, h.hostPort, strings.ToUpper(h.proto))
}

// conflicts reports whether two mappings claim the same host socket: same
// protocol and port, and the same host IP or either one on all addresses.
func (h hostPort) conflicts(o hostPort) bool {
	if h.proto != o.proto || h.hostPort != o.hostPort {
		return false
	}
	return !h.hostIP.IsValid() || !o.hostIP.IsValid() || h.hostIP == o.hostIP
}

// PortConflictError is returned when a pod asks for a host port another pod
// (or the same pod twice) already holds. It matches ErrHostPortInUse.
type PortConflictError struct {
	Port  int
	Proto string // "TCP" or "UDP"
	Owner string // podID holding the port
}

func (e *PortConflictError) Error() string {
	return fmt.Sprintf("host port %d/%s is already used by pod %s", e.Port, e.Proto, podDisplay(e.Owner))
}

// Is makes errors.Is(err, ErrHostPortInUse) true.
func (e *PortConflictError) Is(target error) bool { return target == ErrHostPortInUse }

// planPorts validates a pod's mappings.
func planPorts(ports []PortMapping) ([]hostPort, error) {
	out := make([]hostPort, 0, len(ports))
	for i, p := range ports {
		h, err := parsePort(p)
		if err != nil {
			return nil, fmt.Errorf("%w: ports[%d]: %w", ErrInvalidPortSpec, i, err)
		}
		out = append(out, h)
	}
	return out, nil
}

func parsePort(p PortMapping) (hostPort, error) {
	var h hostPort
	switch strings.ToUpper(p.Protocol) {
	case "", "TCP":
		h.proto = "tcp"
	case "UDP":
		h.proto = "udp"
	default:
		return h, fmt.Errorf("protocol %q: only TCP and UDP are supported", p.Protocol)
	}
	if p.HostPort < 1 || p.HostPort > 65535 {
		return h, fmt.Errorf("hostPort %d: must be 1-65535", p.HostPort)
	}
	if p.ContainerPort < 1 || p.ContainerPort > 65535 {
		return h, fmt.Errorf("containerPort %d: must be 1-65535", p.ContainerPort)
	}
	h.hostPort, h.containerPort = uint16(p.HostPort), uint16(p.ContainerPort)
	if p.HostIP != "" {
		ip, err := netip.ParseAddr(p.HostIP)
		if err != nil || !ip.Is4() {
			return h, fmt.Errorf("hostIP %q: not an IPv4 address", p.HostIP)
		}
		if !ip.IsUnspecified() {
			h.hostIP = ip
		}
	}
	return h, nil
}

// checkConflicts returns the first clash of want (podID's mappings) with
// itself or with held (mappings of other pods, by podID).
func checkConflicts(podID string, want []hostPort, held map[string][]hostPort) error {
	for i, w := range want {
		for _, prev := range want[:i] {
			if w.conflicts(prev) {
				return &PortConflictError{Port: int(w.hostPort), Proto: strings.ToUpper(w.proto), Owner: podID}
			}
		}
		for owner, hs := range held {
			if owner == podID {
				continue
			}
			for _, o := range hs {
				if w.conflicts(o) {
					return &PortConflictError{Port: int(w.hostPort), Proto: strings.ToUpper(w.proto), Owner: owner}
				}
			}
		}
	}
	return nil
}

// ruleComment is stored as the nft comment of a hostPort DNAT rule: it is
// how berth finds a pod's rules again after a restart, and what an admin
// sees in `nft list table ip berth`.
//
//	berth pod=<podID> <hostIP>:<hostPort>/<PROTO> -> <containerPort>
func ruleComment(podID string, h hostPort) string {
	return fmt.Sprintf("berth pod=%s %s -> %d", podID, h, h.containerPort)
}

// parseRuleComment is the inverse of ruleComment; ok is false for comments
// berth did not write.
func parseRuleComment(c string) (podID string, h hostPort, ok bool) {
	f := strings.Fields(c)
	if len(f) != 5 || f[0] != "berth" || !strings.HasPrefix(f[1], "pod=") || f[3] != "->" {
		return "", hostPort{}, false
	}
	podID = strings.TrimPrefix(f[1], "pod=")
	addrPort, proto, found := strings.Cut(f[2], "/")
	if !found {
		return "", hostPort{}, false
	}
	ap, err := netip.ParseAddrPort(addrPort)
	if err != nil {
		return "", hostPort{}, false
	}
	cport, err := strconv.Atoi(f[4])
	if err != nil {
		return "", hostPort{}, false
	}
	ip := ap.Addr().String()
	if ap.Addr().IsUnspecified() {
		ip = ""
	}
	h, err = parsePort(PortMapping{HostIP: ip, HostPort: int(ap.Port()), ContainerPort: cport, Protocol: proto})
	if err != nil || podID == "" {
		return "", hostPort{}, false
	}
	return podID, h, true
}
