package pod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/netsetup"
)

// hostResolvConf is the host's resolver configuration: systemd-resolved's
// real upstream list when present (its stub at 127.0.0.53 is unreachable
// from a pod's network namespace), else /etc/resolv.conf.
func hostResolvConf() []byte {
	for _, p := range []string{"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	return nil
}

// writeEtcFiles writes the pod's hostname, hosts and resolv.conf, which
// every container bind-mounts. It returns the warnings about the pod's DNS
// settings (ClusterFirst without cluster DNS, limits applied).
func writeEtcFiles(l Layout, p *manifests.Pod, ip string) ([]string, error) {
	host := Hostname(p)
	if p.Spec.HostNetwork {
		host, _ = os.Hostname()
	}
	hosts, err := hostsFile(p, ip, host)
	if err != nil {
		return nil, err
	}
	resolv, warnings, err := netsetup.ResolvConf(p.Spec.DNSPolicy, dnsConfig(p.Spec.DNSConfig), hostResolvConf())
	if err != nil {
		return nil, fmt.Errorf("resolv.conf: %w", err)
	}
	dir := l.EtcDir()
	for name, data := range map[string][]byte{"hostname": []byte(host + "\n"), "hosts": hosts, "resolv.conf": resolv} {
		if err := atomicfile.Replace(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	return warnings, nil
}

func hostsFile(p *manifests.Pod, ip, host string) ([]byte, error) {
	if p.Spec.HostNetwork {
		b, err := os.ReadFile("/etc/hosts")
		if errors.Is(err, os.ErrNotExist) {
			return netsetup.HostsFile("127.0.0.1", host, "", nil), nil
		}
		return b, err
	}
	var aliases []netsetup.HostAlias
	for _, a := range p.Spec.HostAliases {
		aliases = append(aliases, netsetup.HostAlias{IP: a.IP, Hostnames: a.Hostnames})
	}
	return netsetup.HostsFile(ip, host, p.Spec.Subdomain, aliases), nil
}

func dnsConfig(c *manifests.PodDNSConfig) *netsetup.DNSConfig {
	if c == nil {
		return nil
	}
	out := &netsetup.DNSConfig{Nameservers: c.Nameservers, Searches: c.Searches}
	for _, o := range c.Options {
		out.Options = append(out.Options, netsetup.DNSOption{Name: o.Name, Value: o.Value})
	}
	return out
}
