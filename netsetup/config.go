package netsetup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultBridge = "berth0"
	DefaultCIDR   = "10.88.0.0/16"
	DefaultTable  = "berth"
)

// maxIfNameLen is IFNAMSIZ-1: the longest interface name Linux accepts.
const maxIfNameLen = 15

// maxPodIDLen keeps a podID, with berth's prefix, inside an nft rule comment
// (NFT_USERDATA_MAXLEN, 256 bytes) and an interface alias (IFALIASZ, 256).
const maxPodIDLen = 100

// Sentinel errors; errors returned by this package wrap them.
var (
	ErrInvalidConfig   = errors.New("invalid network config")
	ErrInvalidPodID    = errors.New("invalid pod id")
	ErrRangeExhausted  = errors.New("no free address")
	ErrStateLocked     = errors.New("network state directory is locked by another process")
	ErrHostPortInUse   = errors.New("host port already in use")
	ErrInvalidPortSpec = errors.New("invalid port mapping")
)

// Config configures a Network. Zero fields take the Default* values.
type Config struct {
	Bridge   string // bridge interface name, default "berth0"
	CIDR     string // pod network, default "10.88.0.0/16"; gateway = first address
	StateDir string // IPAM leases live here (e.g. <state>/net); required
	Table    string // nftables table (family ip) owned by berth, default "berth"
	Log      *slog.Logger
}

// PortMapping is one hostPort of a pod. Protocol is "TCP" (default when
// empty) or "UDP"; an empty or 0.0.0.0 HostIP means every host address.
type PortMapping struct {
	HostIP        string
	HostPort      int
	ContainerPort int
	Protocol      string
}

// PodNet is what Setup gave the pod.
type PodNet struct {
	IP        net.IP
	Gateway   net.IP
	PrefixLen int
	Veth      string // host end of the pod's veth pair
	// IPAM is how long leasing the IP and installing the hostPort rules
	// took; Link how long the veth pair, its addresses and routes did.
	IPAM, Link time.Duration
}

// netPlan is the validated, computed form of a Config.
type netPlan struct {
	bridge  string
	table   string
	prefix  netip.Prefix // masked
	gateway netip.Addr
	pool    addrRange // addresses pods may lease
}

// addrRange is an inclusive range of IPv4 addresses.
type addrRange struct{ first, last netip.Addr }

func (r addrRange) contains(a netip.Addr) bool {
	return a.Is4() && r.first.Compare(a) <= 0 && a.Compare(r.last) <= 0
}

// planConfig applies defaults and validates cfg.
func planConfig(cfg Config) (netPlan, error) {
	p := netPlan{bridge: cfg.Bridge, table: cfg.Table}
	if p.bridge == "" {
		p.bridge = DefaultBridge
	}
	if p.table == "" {
		p.table = DefaultTable
	}
	cidr := cfg.CIDR
	if cidr == "" {
		cidr = DefaultCIDR
	}
	if err := checkIfName(p.bridge); err != nil {
		return netPlan{}, fmt.Errorf("%w: bridge: %w", ErrInvalidConfig, err)
	}
	if len(p.table) > 64 || strings.ContainsFunc(p.table, unicode.IsSpace) {
		return netPlan{}, fmt.Errorf("%w: table %q: at most 64 characters, no spaces", ErrInvalidConfig, p.table)
	}
	if cfg.StateDir == "" {
		return netPlan{}, fmt.Errorf("%w: StateDir is required", ErrInvalidConfig)
	}
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netPlan{}, fmt.Errorf("%w: CIDR %q: %w", ErrInvalidConfig, cidr, err)
	}
	if !prefix.Addr().Is4() || prefix.Bits() > 30 || prefix.Bits() < 8 {
		return netPlan{}, fmt.Errorf("%w: CIDR %q: need an IPv4 network between /8 and /30", ErrInvalidConfig, cidr)
	}
	p.prefix = prefix.Masked()
	p.gateway = p.prefix.Addr().Next()
	p.pool = addrRange{first: p.gateway.Next(), last: lastAddr(p.prefix).Prev()}
	return p, nil
}

// lastAddr is the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		a[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return netip.AddrFrom4(a)
}

func checkIfName(name string) error {
	if name == "" || len(name) > maxIfNameLen {
		return fmt.Errorf("interface name %q must have 1 to %d characters", name, maxIfNameLen)
	}
	if strings.ContainsAny(name, "/:") || strings.ContainsFunc(name, unicode.IsSpace) || name == "." || name == ".." {
		return fmt.Errorf("interface name %q contains '/', ':' or spaces", name)
	}
	return nil
}

// checkPodID rejects IDs that could not be stored in a lease file, an nft
// comment or an interface alias unambiguously.
func checkPodID(podID string) error {
	if podID == "" || len(podID) > maxPodIDLen {
		return fmt.Errorf("%w %q: must have 1 to %d characters", ErrInvalidPodID, podID, maxPodIDLen)
	}
	for _, r := range podID {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' || r == '/' {
			return fmt.Errorf("%w %q: only printable ASCII without spaces or '/'", ErrInvalidPodID, podID)
		}
	}
	return nil
}

// VethName is the host end of podID's veth pair: "bth" + 12 hex digits of
// sha256(podID). Derived from the identity alone, so a crashed daemon finds it
// again without saved state.
func VethName(podID string) string {
	sum := sha256.Sum256([]byte(podID))
	return "bth" + hex.EncodeToString(sum[:6])
}

// podMAC is the pod's eth0 address: locally administered 0a:58 followed by the
// IPv4 address (the convention Kubernetes network plugins use), so ARP caches
// stay valid when an IP is reused by the same pod after a restart.
func podMAC(ip netip.Addr) net.HardwareAddr {
	a := ip.As4()
	return net.HardwareAddr{0x0a, 0x58, a[0], a[1], a[2], a[3]}
}

// podDisplay turns the podID "namespace_name" into "namespace/name" for
// messages; neither part may contain '_' in Kubernetes.
func podDisplay(podID string) string {
	return strings.Replace(podID, "_", "/", 1)
}

// vethAlias is the alias set on the host end of a pod's veth, naming the
// bridge and the pod, so GC can find veths whose lease was lost.
func vethAlias(bridge, podID string) string {
	return aliasPrefix(bridge) + podID
}

func aliasPrefix(bridge string) string {
	return "berth:" + bridge + ":"
}

// HostAlias is one hostAliases entry of a pod (mirrors the Kubernetes type,
// so that this package does not depend on the manifest parser).
type HostAlias struct {
	IP        string
	Hostnames []string
}

// DNSConfig is a pod's dnsConfig.
type DNSConfig struct {
	Nameservers []string
	Searches    []string
	Options     []DNSOption
}

// DNSOption is one resolv.conf option; a nil Value renders the bare name.
type DNSOption struct {
	Name  string
	Value *string
}
