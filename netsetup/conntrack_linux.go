package netsetup

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// clearUDPConntrack deletes the conntrack entries of UDP flows to the UDP
// ones of hps. NAT is decided once per flow: a UDP client that keeps sending
// from one socket stays bound to the entry made by its first packet, that
// is to the address of whichever pod held the host port then, for as long
// as it keeps sending. Clearing the entries whenever a UDP host port changes
// hands makes the next packet go through the current rules (the CNI portmap
// plugin does the same). TCP needs nothing: a new connection is a new flow.
func clearUDPConntrack(hps []hostPort) error {
	var filters []netlink.CustomConntrackFilter
	for _, h := range hps {
		if h.proto != "udp" {
			continue
		}
		f := &netlink.ConntrackFilter{}
		if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
			return fmt.Errorf("conntrack filter for host port %s: %w", h, err)
		}
		if err := f.AddPort(netlink.ConntrackOrigDstPort, h.hostPort); err != nil {
			return fmt.Errorf("conntrack filter for host port %s: %w", h, err)
		}
		if h.hostIP.IsValid() {
			if err := f.AddIP(netlink.ConntrackOrigDstIP, net.IP(h.hostIP.AsSlice())); err != nil {
				return fmt.Errorf("conntrack filter for host port %s: %w", h, err)
			}
		}
		filters = append(filters, f)
	}
	if len(filters) == 0 {
		return nil
	}
	if _, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...); err != nil {
		return fmt.Errorf("delete conntrack entries of UDP host ports: %w", err)
	}
	return nil
}
