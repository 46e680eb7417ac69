package e2e

import (
	"strings"
	"testing"
)

// TestHostsAndResolvConf checks the files every container of a pod gets:
// /etc/hosts with the pod's IP, hostname and hostAliases, and resolv.conf
// from dnsPolicy None with dnsConfig.
func TestHostsAndResolvConf(t *testing.T) {
	d := startDaemon(t)
	d.apply("dns.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: dns
spec:
  hostname: db
  subdomain: backend
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [example.test]
    options: [{name: ndots, value: "2"}]
  hostAliases:
  - ip: 192.0.2.10
    hostnames: [registry.local, mirror.local]
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	p := d.pod("dns")
	hosts := d.mustBerth("exec", "dns", "--", "/bin/demo", "read", "/etc/hosts")
	for _, want := range []string{"127.0.0.1\tlocalhost", p.Status.PodIP + "\tdb.backend", "192.0.2.10\tregistry.local\n", "192.0.2.10\tmirror.local\n"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("/etc/hosts lacks %q:\n%s", want, hosts)
		}
	}
	resolv := d.mustBerth("exec", "dns", "--", "/bin/demo", "read", "/etc/resolv.conf")
	for _, want := range []string{"nameserver 192.0.2.53", "search example.test", "options ndots:2"} {
		if !strings.Contains(resolv, want) {
			t.Errorf("/etc/resolv.conf lacks %q:\n%s", want, resolv)
		}
	}
	if strings.Count(resolv, "nameserver") != 1 {
		t.Errorf("dnsPolicy None must not add the host's nameservers:\n%s", resolv)
	}
	if h := d.mustBerth("exec", "dns", "--", "/bin/demo", "hostname"); strings.TrimSpace(h) != "db" {
		t.Errorf("hostname = %q, want db", h)
	}
}
