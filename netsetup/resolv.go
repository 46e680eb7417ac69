package netsetup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"
)

// Limits kubelet applies to a pod's resolv.conf (glibc's MAXNS is 3).
const (
	maxNameservers = 3
	maxSearches    = 32
)

// ErrInvalidDNS is wrapped by ResolvConf errors about the pod's DNS settings.
var ErrInvalidDNS = errors.New("invalid DNS config")

// resolvConf is the parsed content of a resolv.conf.
type resolvConf struct {
	nameservers []string
	searches    []string
	options     []string // "name" or "name:value"
}

// ResolvConf renders a pod's /etc/resolv.conf for dnsPolicy policy ("" means
// ClusterFirst, the Kubernetes default) from the host's resolv.conf content.
//
// The caller passes the host file that names real upstream servers: on hosts
// running systemd-resolved that is /run/systemd/resolve/resolv.conf, not the
// /etc/resolv.conf stub pointing at 127.0.0.53, which a pod's own loopback
// cannot reach. Loopback nameservers left in hostResolv are dropped with a
// warning for the same reason.
//
//   - Default: the host's resolver settings, then dnsConfig merged in.
//   - ClusterFirst, ClusterFirstWithHostNet: berth has no cluster DNS, so like
//     Default, with a warning.
//   - None: dnsConfig alone; it must name at least one nameserver.
//
// Merging follows kubelet: nameservers appended (at most 3 kept), searches
// appended and deduplicated (at most 32), options merged by name with
// dnsConfig winning. Every truncation is reported as a warning.
func ResolvConf(policy string, dnsCfg *DNSConfig, hostResolv []byte) ([]byte, []string, error) {
	var warnings []string
	var base resolvConf
	switch policy {
	case "", "ClusterFirst", "ClusterFirstWithHostNet":
		name := policy
		if name == "" {
			name = "ClusterFirst"
		}
		warnings = append(warnings, fmt.Sprintf("dnsPolicy %s: berth has no cluster DNS; the pod uses the host's resolvers", name))
		fallthrough
	case "Default":
		var dropped []string
		base, dropped = parseResolv(hostResolv)
		for _, ns := range dropped {
			warnings = append(warnings, fmt.Sprintf("host nameserver %s is a loopback address a pod cannot reach; left out", ns))
		}
	case "None":
		if dnsCfg == nil || len(dnsCfg.Nameservers) == 0 {
			return nil, nil, fmt.Errorf("%w: dnsPolicy None needs dnsConfig.nameservers", ErrInvalidDNS)
		}
	default:
		return nil, nil, fmt.Errorf("%w: unknown dnsPolicy %q", ErrInvalidDNS, policy)
	}
	merged, w, err := mergeDNS(base, dnsCfg)
	if err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, w...)
	if len(merged.nameservers) == 0 {
		warnings = append(warnings, "resolv.conf has no nameserver: name resolution will fail")
	}
	return merged.render(), warnings, nil
}

// parseResolv reads the settings berth carries over from a resolv.conf and
// returns loopback nameservers separately.
func parseResolv(data []byte) (rc resolvConf, loopback []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				continue
			}
			if ip, err := netip.ParseAddr(f[1]); err == nil && ip.IsLoopback() {
				loopback = append(loopback, f[1])
				continue
			}
			rc.nameservers = append(rc.nameservers, f[1])
		case "search", "domain":
			// The last search or domain line wins, as in glibc.
			rc.searches = slices.Clone(f[1:])
		case "options":
			rc.options = append(rc.options, f[1:]...)
		}
	}
	return rc, loopback
}

// mergeDNS applies the pod's dnsConfig to base.
func mergeDNS(base resolvConf, cfg *DNSConfig) (resolvConf, []string, error) {
	var warnings []string
	out := resolvConf{
		nameservers: slices.Clone(base.nameservers),
		searches:    slices.Clone(base.searches),
		options:     slices.Clone(base.options),
	}
	if cfg != nil {
		for _, ns := range cfg.Nameservers {
			if _, err := netip.ParseAddr(ns); err != nil {
				return resolvConf{}, nil, fmt.Errorf("%w: dnsConfig.nameservers: %q is not an IP address", ErrInvalidDNS, ns)
			}
			out.nameservers = append(out.nameservers, ns)
		}
		for _, s := range cfg.Searches {
			if !dnsWord(s) {
				return resolvConf{}, nil, fmt.Errorf("%w: dnsConfig.searches: %q", ErrInvalidDNS, s)
			}
			out.searches = append(out.searches, s)
		}
		for _, o := range cfg.Options {
			if !dnsWord(o.Name) || strings.Contains(o.Name, ":") || (o.Value != nil && !dnsWord(*o.Value)) {
				return resolvConf{}, nil, fmt.Errorf("%w: dnsConfig.options: %q", ErrInvalidDNS, o.Name)
			}
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			out.options = append(out.options, opt)
		}
	}
	out.nameservers = dedup(out.nameservers)
	if len(out.nameservers) > maxNameservers {
		warnings = append(warnings, fmt.Sprintf("%d nameservers; only the first %d are used: %s",
			len(out.nameservers), maxNameservers, strings.Join(out.nameservers[:maxNameservers], " ")))
		out.nameservers = out.nameservers[:maxNameservers]
	}
	out.searches = dedup(out.searches)
	if len(out.searches) > maxSearches {
		warnings = append(warnings, fmt.Sprintf("%d search domains; only the first %d are used", len(out.searches), maxSearches))
		out.searches = out.searches[:maxSearches]
	}
	out.options = mergeOptions(out.options)
	return out, warnings, nil
}

// dedup keeps the first occurrence of each string, in order.
func dedup(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions keeps one option per name: the last value given wins, at the
// position where the name first appeared.
func mergeOptions(opts []string) []string {
	var names []string
	value := map[string]string{}
	for _, o := range opts {
		name, _, _ := strings.Cut(o, ":")
		if _, ok := value[name]; !ok {
			names = append(names, name)
		}
		value[name] = o
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, value[n])
	}
	return out
}

func dnsWord(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

func (rc resolvConf) render() []byte {
	var b bytes.Buffer
	for _, ns := range rc.nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(rc.searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.searches, " "))
	}
	if len(rc.options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.options, " "))
	}
	return b.Bytes()
}
