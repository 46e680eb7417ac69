package netsetup

import (
	"fmt"
	"net/netip"
)

// nextFree picks the first address of pool after last that is not in used,
// wrapping around once, like CNI host-local: recently released addresses are
// reused last, so a stale peer's ARP entry or conntrack flow rarely hits a
// new pod. An invalid last (zero, or outside pool) starts at pool.first.
func nextFree(pool addrRange, last netip.Addr, used map[netip.Addr]string) (netip.Addr, error) {
	start := pool.first
	if pool.contains(last) && last != pool.last {
		start = last.Next()
	}
	a := start
	for {
		if _, taken := used[a]; !taken {
			return a, nil
		}
		if a == pool.last {
			a = pool.first
		} else {
			a = a.Next()
		}
		if a == start {
			return netip.Addr{}, fmt.Errorf("%w in %s-%s", ErrRangeExhausted, pool.first, pool.last)
		}
	}
}
