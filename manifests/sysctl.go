package manifests

import (
	"fmt"
	"strings"
)

// Sysctl namespaces: the kernel namespace a sysctl belongs to, which the
// pod must own for it to be set.
const (
	SysctlNet = "net"
	SysctlIPC = "ipc"
	SysctlUTS = "uts"
)

// ipcSysctls are the sysctls of the IPC namespace besides fs.mqueue.*
// (runc's list).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// NormalizeSysctlName returns name in its dotted form, with sysctl(8)'s
// rule (which Kubernetes and runc follow): when the first separator is
// '/', every '/' becomes '.' and every '.' becomes '/', so that
// "net/ipv4/conf/eth0.100/forwarding" is "net.ipv4.conf.eth0/100.forwarding"
// and its interface name keeps its dot.
func NormalizeSysctlName(name string) string {
	i := strings.IndexAny(name, "./")
	if i < 0 || name[i] == '.' {
		return name
	}
	return swapSysctlSeparators(name)
}

// SysctlPath is the path of a sysctl below /proc/sys: the dotted form with
// '.' and '/' swapped back.
func SysctlPath(name string) string {
	return swapSysctlSeparators(NormalizeSysctlName(name))
}

func swapSysctlSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}

// SysctlNamespace is the namespace a sysctl (in dotted form) is isolated
// by, with runc's rules, or a reason it cannot be set in a pod.
func SysctlNamespace(name string) (ns, refused string) {
	switch {
	case ipcSysctls[name] || strings.HasPrefix(name, "fs.mqueue."):
		return SysctlIPC, ""
	case strings.HasPrefix(name, "net."):
		return SysctlNet, ""
	case name == "kernel.domainname":
		return SysctlUTS, ""
	case name == "kernel.hostname":
		return "", "kernel.hostname is not allowed: the pod's hostname comes from spec.hostname or the pod's name"
	}
	return "", fmt.Sprintf("sysctl %q is not namespaced: a pod may set only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and kernel.domainname", name)
}

// checkSysctlName checks one sysctl name of a pod: a valid name whose
// namespace the pod owns (hostNetwork keeps the host's net and uts
// namespaces, hostIPC the host's ipc namespace).
func checkSysctlName(name string, hostNetwork, hostIPC bool) string {
	if len(name) > sysctlNameMax || !sysctlNameRE().MatchString(name) {
		return fmt.Sprintf("sysctl name %q is not valid: use lowercase words separated by '.' or '/'", clip(name))
	}
	ns, refused := SysctlNamespace(NormalizeSysctlName(name))
	switch {
	case refused != "":
		return refused
	case ns == SysctlNet && hostNetwork:
		return fmt.Sprintf("sysctl %q is not allowed with hostNetwork: it would change the host's network namespace", name)
	case ns == SysctlUTS && hostNetwork:
		return fmt.Sprintf("sysctl %q is not allowed with hostNetwork: it would change the host's UTS namespace", name)
	case ns == SysctlIPC && hostIPC:
		return fmt.Sprintf("sysctl %q is not allowed with hostIPC: it would change the host's IPC namespace", name)
	}
	return ""
}

// checkSysctlValue refuses values that could smuggle a second assignment
// into a runtime that splits on them (CVE-2022-0811: "1+kernel.core_pattern=|/x")
// or a second line into the file.
func checkSysctlValue(name, value string) string {
	if strings.ContainsAny(value, "+=,\n\r\x00") {
		return fmt.Sprintf("sysctl %s value %q must not contain '+', '=', ',', NUL or line breaks", name, clip(value))
	}
	if len(value) > sysctlValueMax {
		return fmt.Sprintf("sysctl %s value is %d bytes long: the limit is %d", name, len(value), sysctlValueMax)
	}
	return ""
}
