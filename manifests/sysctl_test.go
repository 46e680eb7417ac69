package manifests

import (
	"strings"
	"testing"
)

func TestNormalizeSysctlName(t *testing.T) {
	tests := []struct{ in, norm, path string }{
		{"net.ipv4.ip_forward", "net.ipv4.ip_forward", "net/ipv4/ip_forward"},
		{"net/ipv4/ip_forward", "net.ipv4.ip_forward", "net/ipv4/ip_forward"},
		// The first separator decides (sysctl(8), runc): a dot after a
		// leading '/' belongs to a name such as a VLAN interface.
		{"net/ipv4/conf/eth0.100/forwarding", "net.ipv4.conf.eth0/100.forwarding", "net/ipv4/conf/eth0.100/forwarding"},
		{"net.ipv4.conf.eth0/100.forwarding", "net.ipv4.conf.eth0/100.forwarding", "net/ipv4/conf/eth0.100/forwarding"},
		{"kernel.shm_rmid_forced", "kernel.shm_rmid_forced", "kernel/shm_rmid_forced"},
		{"single", "single", "single"},
	}
	for _, tt := range tests {
		if got := NormalizeSysctlName(tt.in); got != tt.norm {
			t.Errorf("NormalizeSysctlName(%q) = %q, want %q", tt.in, got, tt.norm)
		}
		if got := SysctlPath(tt.in); got != tt.path {
			t.Errorf("SysctlPath(%q) = %q, want %q", tt.in, got, tt.path)
		}
	}
}

func TestCheckSysctlName(t *testing.T) {
	tests := []struct {
		name                 string
		hostNetwork, hostIPC bool
		want                 string // "" or a part of the message
	}{
		{name: "net.ipv4.ip_unprivileged_port_start"},
		{name: "net/ipv4/ip_unprivileged_port_start"},
		{name: "net.core.somaxconn"},
		{name: "kernel.shm_rmid_forced"},
		{name: "kernel.shmmax"},
		{name: "kernel.shmall"},
		{name: "kernel.shmmni"},
		{name: "kernel.msgmax"},
		{name: "kernel.msgmnb"},
		{name: "kernel.msgmni"},
		{name: "kernel.sem"},
		{name: "fs.mqueue.msg_max"},
		{name: "fs/mqueue/queues_max"},
		{name: "kernel.domainname"},
		{name: "kernel.hostname", want: "kernel.hostname is not allowed"},
		{name: "kernel/hostname", want: "kernel.hostname is not allowed"},
		{name: "vm.swappiness", want: "is not namespaced"},
		{name: "kernel.core_pattern", want: "is not namespaced"},
		// runc's list is exact: kernel.shm_next_id and friends are not in it.
		{name: "kernel.shm_next_id", want: "is not namespaced"},
		{name: "kernel.semx", want: "is not namespaced"},
		{name: "fs.mqueue", want: "is not namespaced"},
		{name: "netfilter.x", want: "is not namespaced"},
		{name: "net.ipv4.ip_forward", hostNetwork: true, want: "not allowed with hostNetwork"},
		{name: "kernel.domainname", hostNetwork: true, want: "not allowed with hostNetwork"},
		{name: "kernel.shmmax", hostIPC: true, want: "not allowed with hostIPC"},
		{name: "fs.mqueue.msg_max", hostIPC: true, want: "not allowed with hostIPC"},
		{name: "kernel.shmmax", hostNetwork: true},
		{name: "net.core.somaxconn", hostIPC: true},
		{name: "Net.Bad", want: "is not valid"},
		{name: "net..ipv4", want: "is not valid"},
		{name: "net/../../kernel/core_pattern", want: "is not valid"},
		{name: "../kernel/core_pattern", want: "is not valid"},
		{name: "/net/ipv4/ip_forward", want: "is not valid"},
		{name: "net.ipv4.ip_forward ", want: "is not valid"},
		{name: "", want: "is not valid"},
		{name: "net." + strings.Repeat("a", 260), want: "is not valid"},
	}
	for _, tt := range tests {
		got := checkSysctlName(tt.name, tt.hostNetwork, tt.hostIPC)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("checkSysctlName(%q, hostNetwork=%v, hostIPC=%v) = %q, want %q", tt.name, tt.hostNetwork, tt.hostIPC, got, tt.want)
		}
	}
}

func TestCheckSysctlValue(t *testing.T) {
	tests := []struct {
		value string
		ok    bool
	}{
		{"1", true},
		{"1024", true},
		{"250 32000 100 128", true},
		{"32768\t60999", true},
		{"", true},
		{"1+kernel.core_pattern=|/evil", false},
		{"1 kernel.core_pattern=|/evil", false},
		{"1+2", false},
		{"1\nkernel.core_pattern", false},
		{"1\r", false},
		{"1\x00", false},
		{"1,2", false},
		{strings.Repeat("1", 4097), false},
	}
	for _, tt := range tests {
		got := checkSysctlValue("net.core.somaxconn", tt.value)
		if (got == "") != tt.ok {
			t.Errorf("checkSysctlValue(%q) = %q, want ok=%v", tt.value, got, tt.ok)
		}
	}
}

func TestValidatePodSecurityContext(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	sysctls := func(s ...Sysctl) func(*Pod) {
		return func(p *Pod) { p.Spec.SecurityContext = &PodSecurityContext{Sysctls: s} }
	}
	tests := []struct {
		name   string
		mutate func(*Pod)
		path   string // "" when valid
		sev    Severity
	}{
		{"fsGroup and policy", func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{FSGroup: i64(2000), FSGroupChangePolicy: "OnRootMismatch", SupplementalGroups: []int64{3000}}
		}, "", Error},
		{"bad policy", func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{FSGroup: i64(2000), FSGroupChangePolicy: "Sometimes"}
		}, "spec.securityContext.fsGroupChangePolicy", Error},
		{"fsGroup out of range", func(p *Pod) { p.Spec.SecurityContext = &PodSecurityContext{FSGroup: i64(1 << 31)} }, "spec.securityContext.fsGroup", Error},
		{"namespaced sysctls", sysctls(Sysctl{Name: "net.core.somaxconn", Value: "1024"}, Sysctl{Name: "kernel/shm_rmid_forced", Value: "1"}), "", Error},
		{"same sysctl with both separators", sysctls(Sysctl{Name: "net.core.somaxconn", Value: "1"}, Sysctl{Name: "net/core/somaxconn", Value: "2"}), "spec.securityContext.sysctls[1].name", Error},
		{"value trick", sysctls(Sysctl{Name: "net.core.somaxconn", Value: "1+kernel.core_pattern=|/evil"}), "spec.securityContext.sysctls[0].value", Error},
		{"hostname", sysctls(Sysctl{Name: "kernel.hostname", Value: "x"}), "spec.securityContext.sysctls[0].name", Error},
		{"net with hostNetwork", func(p *Pod) {
			sysctls(Sysctl{Name: "net.ipv4.ip_forward", Value: "1"})(p)
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = nil
		}, "spec.securityContext.sysctls[0].name", Error},
	}
	for _, tt := range tests {
		p := goodPod()
		tt.mutate(p)
		ps := ValidatePod(p)
		if tt.path == "" {
			if len(ps) != 0 {
				t.Errorf("%s: got %v, want no problem", tt.name, ps)
			}
			continue
		}
		if len(ps) != 1 || ps[0].Path != tt.path || ps[0].Severity != tt.sev {
			t.Errorf("%s: got %v, want one %v at %s", tt.name, ps, tt.sev, tt.path)
		}
	}
}
