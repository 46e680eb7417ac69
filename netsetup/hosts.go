package netsetup

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
)

// HostsFile renders a pod's /etc/hosts the way kubelet does for pods that do
// not use the host network (hostNetwork pods get the host's file; the caller
// decides). With a subdomain the pod line is "<ip>\t<hostname>.<subdomain>\t<hostname>"
// (berth has no cluster domain to append). An empty podIP omits the pod line.
//
// Inputs are validated by package manifests; as a last line of defence,
// entries with whitespace or control characters, which would inject extra
// lines, are left out.
func HostsFile(podIP, hostname, subdomain string, aliases []HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if validIP(podIP) && hostsName(hostname) {
		if subdomain != "" && hostsName(subdomain) {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", podIP, hostname, subdomain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
		}
	}
	if len(aliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range aliases {
			if !validIP(a.IP) {
				continue
			}
			for _, h := range a.Hostnames {
				if hostsName(h) {
					fmt.Fprintf(&b, "%s\t%s\n", a.IP, h)
				}
			}
		}
	}
	return b.Bytes()
}

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// hostsName reports whether s can stand as one field of a hosts line.
func hostsName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '#'
	})
}
