package netsetup

import (
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Chains of berth's table (family ip). The base chains are rebuilt by every
// EnsureHost; hostports holds one DNAT rule per pod mapping and survives
// daemon restarts, so it is the record of which pod holds which host port.
const (
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
	chainInput       = "input"
	chainHostports   = "hostports"
)

// Conntrack status bit IPS_DST_NAT (include/uapi/linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5

// nftChain is one chain berth owns with the rules EnsureHost puts in it.
type nftChain struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	priority *nftables.ChainPriority
	rules    [][]expr.Any // nil for hostports: filled per pod
}

// basePlan lists berth's chains and their fixed rules:
//
//	prerouting  (nat, dstnat):  fib daddr type local jump hostports
//	output      (nat, dstnat):  fib daddr type local jump hostports
//	postrouting (nat, srcnat):  ip saddr CIDR ip daddr != CIDR oifname != BRIDGE masquerade
//	                            oifname BRIDGE ct status dnat ip saddr CIDR masquerade       (hairpin)
//	                            oifname BRIDGE ct status dnat ip saddr 127.0.0.0/8 masquerade (hostPort via localhost)
//	input       (filter):       iifname != lo ip daddr 127.0.0.0/8 ct state != established,related drop
//	hostports:                  per pod: [ip daddr HOSTIP] meta l4proto P th dport N dnat to POD:PORT
func basePlan(p netPlan) []nftChain {
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	toHostports := []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: chainHostports},
	}
	return []nftChain{
		{name: chainHostports},
		{name: chainPrerouting, typ: nftables.ChainTypeNAT, hook: nftables.ChainHookPrerouting,
			priority: nftables.ChainPriorityNATDest, rules: [][]expr.Any{toHostports}},
		{name: chainOutput, typ: nftables.ChainTypeNAT, hook: nftables.ChainHookOutput,
			priority: nftables.ChainPriorityNATDest, rules: [][]expr.Any{toHostports}},
		{name: chainPostrouting, typ: nftables.ChainTypeNAT, hook: nftables.ChainHookPostrouting,
			priority: nftables.ChainPriorityNATSource, rules: [][]expr.Any{
				concat(matchPrefix(12, p.prefix, expr.CmpOpEq), matchPrefix(16, p.prefix, expr.CmpOpNeq),
					matchIfname(expr.MetaKeyOIFNAME, p.bridge, expr.CmpOpNeq), masq()),
				concat(matchIfname(expr.MetaKeyOIFNAME, p.bridge, expr.CmpOpEq), matchCtDNAT(),
					matchPrefix(12, p.prefix, expr.CmpOpEq), masq()),
				concat(matchIfname(expr.MetaKeyOIFNAME, p.bridge, expr.CmpOpEq), matchCtDNAT(),
					matchPrefix(12, loopback, expr.CmpOpEq), masq()),
			}},
		{name: chainInput, typ: nftables.ChainTypeFilter, hook: nftables.ChainHookInput,
			priority: nftables.ChainPriorityFilter, rules: [][]expr.Any{
				concat(matchIfname(expr.MetaKeyIIFNAME, "lo", expr.CmpOpNeq), matchPrefix(16, loopback, expr.CmpOpEq),
					matchCtNotEstablished(), []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}),
			}},
	}
}

// dnatRule is the hostports rule forwarding h to podIP.
func dnatRule(podIP netip.Addr, h hostPort) []expr.Any {
	var e []expr.Any
	if h.hostIP.IsValid() {
		e = append(e, matchPrefix(16, netip.PrefixFrom(h.hostIP, 32), expr.CmpOpEq)...)
	}
	proto := byte(unix.IPPROTO_TCP)
	if h.proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	pod := podIP.As4()
	return append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(h.hostPort)},
		&expr.Immediate{Register: 1, Data: pod[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(h.containerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}

// commentData encodes an nft comment the way the nft CLI does.
func commentData(c string) []byte {
	return userdata.AppendString(nil, userdata.TypeComment, c)
}

func commentOf(r *nftables.Rule) string {
	c, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return c
}

// matchPrefix compares the IPv4 header address at offset (12 source,
// 16 destination) with prefix.
func matchPrefix(offset uint32, prefix netip.Prefix, op expr.CmpOp) []expr.Any {
	addr := prefix.Masked().Addr().As4()
	m := prefixMask(prefix.Bits())
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: addr[:]},
	}
}

func prefixMask(bits int) []byte {
	m := make([]byte, 4)
	for i := range m {
		n := min(max(bits-8*i, 0), 8)
		m[i] = byte(0xff << (8 - n))
	}
	return m
}

// matchIfname compares the input or output interface name.
func matchIfname(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	data := make([]byte, unix.IFNAMSIZ)
	copy(data, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: data},
	}
}

// matchCtDNAT is "ct status dnat".
func matchCtDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// matchCtNotEstablished is "ct state != established,related" (new, invalid
// or untracked).
func matchCtNotEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
