package netsetup

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// PodInterface is the name of the pod's end of its veth pair, its
// interface in its network namespace.
const PodInterface = "eth0"

// ensureBridge creates the bridge if missing, and gives it the gateway
// address and brings it up either way.
func (n *Network) ensureBridge() error {
	name := n.plan.bridge
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create bridge %s: %w", name, err)
	}
	br, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", name, err)
	}
	if br.Type() != "bridge" {
		return fmt.Errorf("interface %s exists but is a %s, not a bridge", name, br.Type())
	}
	addr := &netlink.Addr{IPNet: n.ipNet(n.plan.gateway)}
	if err := netlink.AddrReplace(br, addr); err != nil {
		return fmt.Errorf("set address %s on bridge %s: %w", addr.IPNet, name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring up bridge %s: %w", name, err)
	}
	return nil
}

// ensureSysctl sets the boolean sysctl at path to 1 unless it already is.
func ensureSysctl(path string) error {
	cur, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read sysctl %s: %w", path, err)
	}
	if strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("set sysctl %s=1: %w", path, err)
	}
	return nil
}

// ipNet is ip with the pod network's prefix length.
func (n *Network) ipNet(ip netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(n.plan.prefix.Bits(), 32)}
}

// createVeth creates the pair with its pod end already inside ns, named eth0
// with the pod's MAC. A host end left by an interrupted Setup is deleted
// first (its peer goes with it).
func (n *Network) createVeth(podID, veth string, ip netip.Addr, ns netns.NsHandle) error {
	if err := deleteLink(veth); err != nil {
		return fmt.Errorf("remove leftover veth %s of pod %s: %w", veth, podID, err)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = veth
	link := &netlink.Veth{
		LinkAttrs:        attrs,
		PeerName:         PodInterface,
		PeerHardwareAddr: podMAC(ip),
		PeerNamespace:    netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(link); err != nil {
		return fmt.Errorf("create veth %s for pod %s: %w", veth, podID, err)
	}
	// The kernel ignores IFLA_IFALIAS when creating a link, so the alias GC
	// relies on is set separately; without it the veth must not stay.
	if err := netlink.LinkSetAlias(link, vethAlias(n.plan.bridge, podID)); err != nil {
		return errors.Join(fmt.Errorf("set alias on veth %s of pod %s: %w", veth, podID, err), deleteLink(veth))
	}
	return nil
}

// configurePod addresses eth0 inside the pod, brings lo and eth0 up and adds
// the default route via the gateway, through a netlink handle bound to the
// pod's netns (no setns of any daemon thread).
func (n *Network) configurePod(podID string, ns netns.NsHandle, ip netip.Addr) error {
	// Route netlink only: without a family list the library also opens
	// NETLINK_XFRM and NETLINK_NETFILTER sockets, and a kernel without the
	// xfrm_user module (Debian's cloud kernel) refuses with EPROTONOSUPPORT.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink in netns of pod %s: %w", podID, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo of pod %s: %w", podID, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring up lo of pod %s: %w", podID, err)
	}
	eth, err := h.LinkByName(PodInterface)
	if err != nil {
		return fmt.Errorf("find %s of pod %s: %w", PodInterface, podID, err)
	}
	addr := &netlink.Addr{IPNet: n.ipNet(ip)}
	if err := h.AddrReplace(eth, addr); err != nil {
		return fmt.Errorf("set address %s on %s of pod %s: %w", addr.IPNet, PodInterface, podID, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("bring up %s of pod %s: %w", PodInterface, podID, err)
	}
	gw := n.Gateway()
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw, Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}}
	if err := h.RouteReplace(route); err != nil {
		return fmt.Errorf("add default route via %s in pod %s: %w", gw, podID, err)
	}
	return nil
}

// attachHostEnd enslaves the host end to the bridge with hairpin mode (a pod
// reaching its own hostPort gets the reply back through the same port) and
// brings it up.
func (n *Network) attachHostEnd(podID, veth string) error {
	br, err := netlink.LinkByName(n.plan.bridge)
	if err != nil {
		return fmt.Errorf("find bridge %s for pod %s (EnsureHost not run?): %w", n.plan.bridge, podID, err)
	}
	link, err := netlink.LinkByName(veth)
	if err != nil {
		return fmt.Errorf("find veth %s of pod %s: %w", veth, podID, err)
	}
	if err := netlink.LinkSetMaster(link, br); err != nil {
		return fmt.Errorf("attach veth %s of pod %s to bridge %s: %w", veth, podID, n.plan.bridge, err)
	}
	if err := netlink.LinkSetHairpin(link, true); err != nil {
		return fmt.Errorf("set hairpin on veth %s of pod %s: %w", veth, podID, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up veth %s of pod %s: %w", veth, podID, err)
	}
	return nil
}

// deleteLink deletes the named interface of the host netns; a missing one is
// not an error. Deleting either end of a veth pair deletes both, synchronously.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return fmt.Errorf("find interface %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete interface %s: %w", name, err)
	}
	return nil
}

// deleteAliasedVeths deletes host veths carrying this bridge's alias for a
// pod not in live, returning those pods.
func (n *Network) deleteAliasedVeths(live map[string]bool) ([]string, error) {
	links, err := listLinks()
	if err != nil {
		return nil, err
	}
	prefix := aliasPrefix(n.plan.bridge)
	var removed []string
	var errs []error
	for _, l := range links {
		podID, ok := strings.CutPrefix(l.Attrs().Alias, prefix)
		if !ok || l.Type() != "veth" || live[podID] {
			continue
		}
		if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("delete veth %s of pod %s: %w", l.Attrs().Name, podID, err))
			continue
		}
		removed = append(removed, podID)
	}
	return removed, errors.Join(errs...)
}

// dumpAttempts bounds how often a link dump is redone when the kernel
// reports it was interrupted.
const dumpAttempts = 5

// listLinks lists the host's interfaces. A dump that another process's
// link change interrupted (NLM_F_DUMP_INTR: other pods' veths come and go
// at any time) may be incomplete, and a GC working from it could miss a
// leftover: it is done again.
func listLinks() ([]netlink.Link, error) {
	var err error
	for range dumpAttempts {
		var links []netlink.Link
		links, err = netlink.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			if err != nil {
				return nil, fmt.Errorf("list interfaces: %w", err)
			}
			return links, nil
		}
	}
	return nil, fmt.Errorf("list interfaces: %d dumps in a row were interrupted: %w", dumpAttempts, err)
}
