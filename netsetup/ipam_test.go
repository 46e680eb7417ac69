package netsetup

import (
	"errors"
	"net/netip"
	"testing"
)

func TestNextFree(t *testing.T) {
	a := netip.MustParseAddr
	pool := addrRange{a("10.0.0.2"), a("10.0.0.6")} // a /29 without network, gateway, broadcast
	used := func(ips ...string) map[netip.Addr]string {
		m := map[netip.Addr]string{}
		for _, ip := range ips {
			m[a(ip)] = "pod"
		}
		return m
	}
	tests := []struct {
		name string
		last netip.Addr
		used map[netip.Addr]string
		want string // "" = exhausted
	}{
		{name: "empty starts at first", want: "10.0.0.2"},
		{name: "after last", last: a("10.0.0.3"), want: "10.0.0.4"},
		{name: "skips used", last: a("10.0.0.2"), used: used("10.0.0.3", "10.0.0.4"), want: "10.0.0.5"},
		{name: "wraps after pool end", last: a("10.0.0.6"), want: "10.0.0.2"},
		{name: "wraps past used", last: a("10.0.0.5"), used: used("10.0.0.6", "10.0.0.2"), want: "10.0.0.3"},
		{name: "released address reused last", last: a("10.0.0.4"), used: used("10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6"), want: "10.0.0.4"},
		{name: "last outside pool (gateway)", last: a("10.0.0.1"), want: "10.0.0.2"},
		{name: "last from another network", last: a("192.168.0.9"), want: "10.0.0.2"},
		{name: "exhausted", last: a("10.0.0.4"), used: used("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nextFree(pool, tt.last, tt.used)
			if tt.want == "" {
				if !errors.Is(err, ErrRangeExhausted) {
					t.Fatalf("got %v, %v; want ErrRangeExhausted", got, err)
				}
				return
			}
			if err != nil || got != a(tt.want) {
				t.Fatalf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}
