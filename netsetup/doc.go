// Package netsetup gives pods their network: a Linux bridge with the gateway
// address, one veth pair per pod (host end on the bridge, pod end renamed to
// eth0 inside the pod's network namespace), an on-disk IP allocator, and
// berth's own nftables table for egress masquerade and hostPort DNAT. It also
// renders the pod's /etc/hosts and /etc/resolv.conf.
//
// Names are derived from the pod's identity (VethName), so cleanup after a
// crash needs no saved state besides the leases; the lease directory maps
// IP -> podID and is the root record: Setup leases first and Teardown
// releases last.
//
// Host settings and their limits:
//
//   - EnsureHost sets net.ipv4.ip_forward=1, a host-wide setting that berth
//     does not restore on exit (other pods and tools may rely on it).
//   - route_localnet is enabled on berth's bridge only, never on "all"
//     (CVE-2020-8558), so that hostPorts answer on 127.0.0.1 the way the CNI
//     portmap plugin does it: DNAT in the output hook, then masquerade of the
//     127.0.0.1 source to the gateway address. An input rule in berth's table
//     drops new connections to 127.0.0.0/8 arriving on any interface but lo,
//     so pods on the bridge cannot reach services bound to the host's loopback.
//   - berth only ever changes its own nftables table. An accept verdict in one
//     table does not override a drop in another: if the host's own firewall
//     (iptables FORWARD policy DROP, as Docker sets it, or another nft table)
//     drops forwarded traffic, pod egress and hostPorts from other hosts stay
//     blocked until the administrator allows the pod CIDR there.
//   - When a UDP hostPort rule is added or removed, conntrack entries of UDP
//     flows to that port are deleted, so a client that keeps sending from one
//     socket reaches the port's new owner rather than the pod it replaced.
//
// Partition: config.go, ipam.go, ports.go, hosts.go and resolv.go are pure
// (table-tested without root); the _linux.go files apply them to the kernel.
package netsetup
