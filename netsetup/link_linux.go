package netsetup

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/homenetns"
	"github.com/berth-project/berth/internal/sysfile"
)

// PodInterface is the name of the pod's end of its veth pair, its
// interface in its network namespace.
const PodInterface = "eth0"

// ensureBridge creates the bridge if missing, and gives it the gateway
// address, turns its IPv6 off and brings it up either way.
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
	if n.ipv6Conf != nil {
		if err := disableIPv6At(n.ipv6Conf, name); err != nil {
			return fmt.Errorf("bridge %s: %w", name, err)
		}
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

// The pod network is IPv4 only, and an interface left with IPv6 on takes
// a link-local address and listens for router advertisements on a link
// every pod can send to: a pod with CAP_NET_RAW could give the host, or
// every other pod, an IPv6 route through itself (CVE-2020-13401,
// CVE-2024-32473; Docker turns IPv6 off on IPv4-only interfaces too). Each
// interface coming up would also send its duplicate address detection,
// router solicitation and multicast listener reports, which the bridge
// floods to every pod: with N pods on the bridge a burst of N pods costs
// N² packet deliveries. So the bridge, the host ends and the pods' eth0
// have IPv6 turned off before they come up.

const ipv6ConfDir = "/proc/sys/net/ipv6/conf"

// hostIPv6Conf opens the host's /proc/sys/net/ipv6/conf, nil when the
// kernel has no IPv6 (and so nothing to turn off).
// The kernel keeps the sysctl directories of every network namespace
// under one /proc/sys/net entry, so a walk from /proc/sys takes a step
// per pod; from this directory it takes none.
func hostIPv6Conf() (*os.File, error) {
	f, err := os.Open(ipv6ConfDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ipv6ConfDir, err)
	}
	return f, nil
}

// disableIPv6At turns IPv6 off on the interface ifname, through the conf
// directory open at dir, or when dir is nil through /proc/sys in the
// calling thread's network namespace.
func disableIPv6At(dir *os.File, ifname string) error {
	name := ifname + "/disable_ipv6"
	var err error
	if dir != nil {
		err = sysfile.WriteExistingAt(dir, name, "1")
	} else {
		err = sysfile.WriteExisting(ipv6ConfDir+"/"+name, "1")
	}
	if err != nil {
		return fmt.Errorf("turn off IPv6 on %s (/proc/sys/net must be writable): %w", ifname, err)
	}
	return nil
}

// runInNetns runs fn on an OS thread of its own inside ns. Every other
// daemon thread stays in the daemon's namespace: the thread is unlocked
// only once it is back there, and otherwise ends with its goroutine.
func runInNetns(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		home, err := homenetns.Get()
		if err != nil {
			errc <- fmt.Errorf("open the daemon's network namespace: %w", err)
			return
		}
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(home); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("return to the daemon's network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
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

// configurePod addresses eth0 inside the pod, turns its IPv6 off, brings lo
// and eth0 up and adds the default route via the gateway, through a netlink
// handle bound to the pod's netns. lo keeps IPv6 (::1), as in any pod.
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
	if n.ipv6Conf != nil {
		// A walk from /proc/sys: the pod's namespace has no open directory.
		if err := runInNetns(ns, func() error { return disableIPv6At(nil, PodInterface) }); err != nil {
			return fmt.Errorf("pod %s: %w", podID, err)
		}
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
// reaching its own hostPort gets the reply back through the same port),
// turns its IPv6 off and brings it up.
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
	if n.ipv6Conf != nil {
		if err := disableIPv6At(n.ipv6Conf, veth); err != nil {
			return fmt.Errorf("pod %s: %w", podID, err)
		}
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
