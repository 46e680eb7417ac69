package netsetup

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

// Network manages berth's pod network on this host. Its methods are safe for
// concurrent use for different pods; the caller serialises calls for one pod.
type Network struct {
	plan netPlan
	log  *slog.Logger

	// mu guards store and the hostports chain, so that a lease or a host port
	// is never handed out twice.
	mu    sync.Mutex
	store *leaseStore

	// ipv6Conf is the host's /proc/sys/net/ipv6/conf, nil without IPv6.
	ipv6Conf *os.File
}

// New validates cfg and opens (and locks) the IPAM state in cfg.StateDir. It
// fails with ErrStateLocked when another Network, in this process or another,
// holds that directory. Call Close to release it.
func New(cfg Config) (*Network, error) {
	plan, err := planConfig(cfg)
	if err != nil {
		return nil, err
	}
	conf, err := hostIPv6Conf()
	if err != nil {
		return nil, err
	}
	store, err := openStore(cfg.StateDir, plan.pool)
	if err != nil {
		if conf != nil {
			conf.Close()
		}
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Network{plan: plan, log: log.With("bridge", plan.bridge), store: store, ipv6Conf: conf}, nil
}

// Close releases the IPAM lock. Pods keep their network.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ipv6Conf != nil {
		n.ipv6Conf.Close()
	}
	return n.store.close()
}

// Gateway is the bridge's address, the pods' default gateway.
func (n *Network) Gateway() net.IP { return net.IP(n.plan.gateway.AsSlice()) }

// EnsureHost makes the host side ready and is idempotent: the bridge up with
// the gateway address and no IPv6, ip_forward and route_localnet (bridge only) enabled,
// and berth's nftables table with its chains (see basePlan). Per-pod
// hostPort rules already in the table are kept.
func (n *Network) EnsureHost() error {
	if err := n.ensureBridge(); err != nil {
		return err
	}
	if err := ensureSysctl("/proc/sys/net/ipv4/ip_forward"); err != nil {
		return err
	}
	if err := ensureSysctl("/proc/sys/net/ipv4/conf/" + n.plan.bridge + "/route_localnet"); err != nil {
		return err
	}
	return n.ensureTable()
}

// Setup connects the pod whose network namespace is bound at netnsPath: it
// leases an IP, installs the hostPort rules, creates the veth pair with eth0
// inside the pod and attaches the host end to the bridge. On error, every
// step already done is undone. Calling Setup again for a pod whose previous
// Setup was interrupted replaces the leftovers and keeps its lease.
func (n *Network) Setup(podID, netnsPath string, ports []PortMapping) (_ PodNet, err error) {
	if err := checkPodID(podID); err != nil {
		return PodNet{}, err
	}
	hps, err := planPorts(ports)
	if err != nil {
		return PodNet{}, fmt.Errorf("set up network for pod %s: %w", podID, err)
	}
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return PodNet{}, fmt.Errorf("open netns %s of pod %s: %w", netnsPath, podID, err)
	}
	defer ns.Close()

	var undo undoStack
	defer func() {
		if err != nil {
			if uerr := undo.run(); uerr != nil {
				err = errors.Join(err, fmt.Errorf("undo network setup of pod %s: %w", podID, uerr))
			}
		}
	}()
	start := time.Now()
	ip, err := n.claim(podID, hps, &undo)
	if err != nil {
		return PodNet{}, fmt.Errorf("set up network for pod %s: %w", podID, err)
	}
	claimed := time.Now()
	veth := VethName(podID)
	if err := n.createVeth(podID, veth, ip, ns); err != nil {
		return PodNet{}, err
	}
	undo.push(func() error { return deleteLink(veth) })
	if err := n.configurePod(podID, ns, ip); err != nil {
		return PodNet{}, err
	}
	if err := n.attachHostEnd(podID, veth); err != nil {
		return PodNet{}, err
	}
	n.log.Debug("pod network set up", "podID", podID, "ip", ip, "veth", veth)
	return PodNet{
		IP:        net.IP(ip.AsSlice()),
		Gateway:   n.Gateway(),
		PrefixLen: n.plan.prefix.Bits(),
		Veth:      veth,
		IPAM:      claimed.Sub(start),
		Link:      time.Since(claimed),
	}, nil
}

// CheckPorts reports whether podID could claim its hostPorts now: an error
// for a malformed mapping, or a *PortConflictError naming the pod that holds
// one. It lets a pod that cannot get its ports fail before anything of it
// is made; Setup checks again, atomically with the claim.
func (n *Network) CheckPorts(podID string, ports []PortMapping) error {
	hps, err := planPorts(ports)
	if err != nil || len(hps) == 0 {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	_, err = n.portConflict(c, podID, hps)
	return err
}

// claim checks podID's hostPorts against other pods', then leases its IP and
// installs its hostPort rules, atomically with respect to other pods,
// registering the undo of each. A pod refused for a port never holds a
// lease, not even for a moment.
func (n *Network) claim(podID string, hps []hostPort, undo *undoStack) (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, err := nftables.New()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("open nftables: %w", err)
	}
	existing, err := n.portConflict(c, podID, hps)
	if err != nil {
		return netip.Addr{}, err
	}
	ip, err := n.store.reserve(podID)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("lease IP: %w", err)
	}
	undo.push(func() error {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.store.releasePod(podID)
	})
	if err := n.replacePortRules(c, existing, podID, ip, hps); err != nil {
		return netip.Addr{}, err
	}
	undo.push(func() error {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.deletePortRules(func(id string) bool { return id == podID })
	})
	return ip, nil
}

// Teardown removes the pod's veth, hostPort rules and lease, in that order
// (the lease is the record GC starts from, so it goes last). Parts already
// gone are not an error. Delete the veth this way before deleting the pod's
// netns: a netns deletion frees the veth asynchronously.
func (n *Network) Teardown(podID string) error {
	if err := checkPodID(podID); err != nil {
		return err
	}
	if err := deleteLink(VethName(podID)); err != nil {
		return fmt.Errorf("tear down network of pod %s: %w", podID, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.deletePortRules(func(id string) bool { return id == podID }); err != nil {
		return fmt.Errorf("tear down network of pod %s: %w", podID, err)
	}
	if err := n.store.releasePod(podID); err != nil {
		return fmt.Errorf("tear down network of pod %s: %w", podID, err)
	}
	n.log.Debug("pod network torn down", "podID", podID)
	return nil
}

// GC removes the veths, hostPort rules and leases of every pod not in live:
// what a crashed daemon left behind. It finds them through the leases, the
// comments of the hostPort rules and the alias of the veths, so no other
// saved state is needed.
func (n *Network) GC(live map[string]bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	stale := map[string]bool{}
	for _, id := range n.store.snapshot() {
		if !live[id] {
			stale[id] = true
		}
	}
	for id := range stale {
		if err := deleteLink(VethName(id)); err != nil {
			errs = append(errs, fmt.Errorf("gc veth of pod %s: %w", id, err))
		}
	}
	removed, err := n.deleteAliasedVeths(live)
	errs = append(errs, err)
	for _, id := range removed {
		stale[id] = true
	}
	if err := n.deletePortRules(func(id string) bool { return !live[id] }); err != nil {
		errs = append(errs, fmt.Errorf("gc hostPort rules: %w", err))
	}
	for ip, id := range n.store.snapshot() {
		if !live[id] {
			errs = append(errs, n.store.release(ip))
		}
	}
	for id := range stale {
		n.log.Info("removed network leftovers of pod", "podID", id)
	}
	return errors.Join(errs...)
}

// Lease returns podID's current IP lease, for re-attaching to a running pod
// after a daemon restart.
func (n *Network) Lease(podID string) (net.IP, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ip, ok := n.store.lookup(podID)
	if !ok {
		return nil, false
	}
	return net.IP(ip.AsSlice()), true
}

// undoStack collects the undo of each completed step of a multi-step setup.
type undoStack []func() error

func (u *undoStack) push(f func() error) { *u = append(*u, f) }

// run undoes the steps in reverse order, attempting all of them.
func (u undoStack) run() error {
	var errs []error
	for i := len(u) - 1; i >= 0; i-- {
		errs = append(errs, u[i]())
	}
	return errors.Join(errs...)
}
