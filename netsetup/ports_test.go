package netsetup

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestPlanPorts(t *testing.T) {
	tests := []struct {
		name    string
		in      PortMapping
		want    hostPort
		wantErr bool
	}{
		{name: "tcp default", in: PortMapping{HostPort: 8080, ContainerPort: 80},
			want: hostPort{proto: "tcp", hostPort: 8080, containerPort: 80}},
		{name: "udp with ip", in: PortMapping{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 5353, Protocol: "UDP"},
			want: hostPort{proto: "udp", hostIP: netip.MustParseAddr("127.0.0.1"), hostPort: 53, containerPort: 5353}},
		{name: "0.0.0.0 means all", in: PortMapping{HostIP: "0.0.0.0", HostPort: 1, ContainerPort: 65535, Protocol: "tcp"},
			want: hostPort{proto: "tcp", hostPort: 1, containerPort: 65535}},
		{name: "sctp", in: PortMapping{HostPort: 1, ContainerPort: 1, Protocol: "SCTP"}, wantErr: true},
		{name: "host port 0", in: PortMapping{HostPort: 0, ContainerPort: 1}, wantErr: true},
		{name: "container port too big", in: PortMapping{HostPort: 1, ContainerPort: 65536}, wantErr: true},
		{name: "ipv6 host ip", in: PortMapping{HostIP: "::1", HostPort: 1, ContainerPort: 1}, wantErr: true},
		{name: "bad host ip", in: PortMapping{HostIP: "localhost", HostPort: 1, ContainerPort: 1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planPorts([]PortMapping{tt.in})
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidPortSpec) {
					t.Fatalf("err = %v, want ErrInvalidPortSpec", err)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0] != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestCheckConflicts(t *testing.T) {
	hp := func(ip string, port uint16, proto string) hostPort {
		h := hostPort{proto: proto, hostPort: port, containerPort: 80}
		if ip != "" {
			h.hostIP = netip.MustParseAddr(ip)
		}
		return h
	}
	held := map[string][]hostPort{
		"default_web": {hp("", 8080, "tcp")},
		"default_dns": {hp("10.0.0.1", 53, "udp")},
	}
	tests := []struct {
		name      string
		podID     string
		want      []hostPort
		wantOwner string // "" = no conflict
	}{
		{name: "free port", podID: "default_b", want: []hostPort{hp("", 9090, "tcp")}},
		{name: "same port other proto", podID: "default_b", want: []hostPort{hp("", 8080, "udp")}},
		{name: "same port all addresses", podID: "default_b", want: []hostPort{hp("", 8080, "tcp")}, wantOwner: "default_web"},
		{name: "specific ip vs all", podID: "default_b", want: []hostPort{hp("127.0.0.1", 8080, "tcp")}, wantOwner: "default_web"},
		{name: "all vs specific ip", podID: "default_b", want: []hostPort{hp("", 53, "udp")}, wantOwner: "default_dns"},
		{name: "different specific ips", podID: "default_b", want: []hostPort{hp("127.0.0.1", 53, "udp")}},
		{name: "own rules do not conflict", podID: "default_web", want: []hostPort{hp("", 8080, "tcp")}},
		{name: "duplicate within pod", podID: "default_b", want: []hostPort{hp("", 7, "tcp"), hp("", 7, "tcp")}, wantOwner: "default_b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkConflicts(tt.podID, tt.want, held)
			if tt.wantOwner == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pc *PortConflictError
			if !errors.As(err, &pc) || pc.Owner != tt.wantOwner || !errors.Is(err, ErrHostPortInUse) {
				t.Fatalf("err = %v, want conflict with %s", err, tt.wantOwner)
			}
		})
	}
}

func TestPortConflictMessage(t *testing.T) {
	err := &PortConflictError{Port: 8080, Proto: "TCP", Owner: "default_web"}
	if got, want := err.Error(), "host port 8080/TCP is already used by pod default/web"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRuleCommentRoundTrip(t *testing.T) {
	for _, h := range []hostPort{
		{proto: "tcp", hostPort: 8080, containerPort: 80},
		{proto: "udp", hostIP: netip.MustParseAddr("192.0.2.7"), hostPort: 53, containerPort: 5353},
	} {
		long := ruleComment(strings.Repeat("x", maxPodIDLen), hostPort{proto: "tcp", hostIP: netip.MustParseAddr("255.255.255.255"), hostPort: 65535, containerPort: 65535})
		if len(commentData(long)) > 256 {
			t.Errorf("comment %q longer than the kernel's NFT_USERDATA_MAXLEN", long)
		}
		c := ruleComment("default_web", h)
		id, got, ok := parseRuleComment(c)
		if !ok || id != "default_web" || got != h {
			t.Errorf("parse(%q) = %q %+v %v, want %+v", c, id, got, ok, h)
		}
	}
	for _, c := range []string{"", "something else", "berth pod=x 1.2.3.4:80/TCP", "berth pod= 0.0.0.0:80/TCP -> 80", "berth pod=x 0.0.0.0:80/ICMP -> 80"} {
		if _, _, ok := parseRuleComment(c); ok {
			t.Errorf("parse(%q) accepted a comment berth did not write", c)
		}
	}
}
