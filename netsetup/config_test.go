package netsetup

import (
	"errors"
	"net/netip"
	"regexp"
	"testing"
)

func TestPlanConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    netPlan
		wantErr bool
	}{
		{name: "defaults", cfg: Config{StateDir: "/s"}, want: netPlan{
			bridge: "berth0", table: "berth", prefix: netip.MustParsePrefix("10.88.0.0/16"),
			gateway: netip.MustParseAddr("10.88.0.1"),
			pool:    addrRange{netip.MustParseAddr("10.88.0.2"), netip.MustParseAddr("10.88.255.254")},
		}},
		{name: "unmasked /29", cfg: Config{StateDir: "/s", Bridge: "bt1", Table: "t1", CIDR: "10.200.1.5/29"}, want: netPlan{
			bridge: "bt1", table: "t1", prefix: netip.MustParsePrefix("10.200.1.0/29"),
			gateway: netip.MustParseAddr("10.200.1.1"),
			pool:    addrRange{netip.MustParseAddr("10.200.1.2"), netip.MustParseAddr("10.200.1.6")},
		}},
		{name: "/30 has one pod address", cfg: Config{StateDir: "/s", CIDR: "10.1.1.0/30"}, want: netPlan{
			bridge: "berth0", table: "berth", prefix: netip.MustParsePrefix("10.1.1.0/30"),
			gateway: netip.MustParseAddr("10.1.1.1"),
			pool:    addrRange{netip.MustParseAddr("10.1.1.2"), netip.MustParseAddr("10.1.1.2")},
		}},
		{name: "no state dir", cfg: Config{}, wantErr: true},
		{name: "/31 too small", cfg: Config{StateDir: "/s", CIDR: "10.1.1.0/31"}, wantErr: true},
		{name: "ipv6", cfg: Config{StateDir: "/s", CIDR: "fd00::/64"}, wantErr: true},
		{name: "garbage cidr", cfg: Config{StateDir: "/s", CIDR: "10.1.1.0"}, wantErr: true},
		{name: "bridge name too long", cfg: Config{StateDir: "/s", Bridge: "abcdefghijklmnop"}, wantErr: true},
		{name: "bridge name with slash", cfg: Config{StateDir: "/s", Bridge: "a/b"}, wantErr: true},
		{name: "table with space", cfg: Config{StateDir: "/s", Table: "a b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planConfig(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestVethName(t *testing.T) {
	re := regexp.MustCompile(`^bth[0-9a-f]{12}$`)
	seen := map[string]string{}
	for _, id := range []string{"default_web", "default_web2", "kube-system_etcd", "x"} {
		name := VethName(id)
		if !re.MatchString(name) || len(name) > maxIfNameLen {
			t.Errorf("VethName(%q) = %q: want bth + 12 hex, <= 15 chars", id, name)
		}
		if name != VethName(id) {
			t.Errorf("VethName(%q) not stable", id)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("VethName(%q) == VethName(%q)", id, prev)
		}
		seen[name] = id
	}
}

func TestCheckPodID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"default_web", true},
		{"kube-system_etcd-0.a", true},
		{"", false},
		{"a b", false},
		{"a/b", false},
		{"a\nb", false},
		{"é", false},
		{string(make([]byte, 101)), false},
	}
	for _, tt := range tests {
		err := checkPodID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("checkPodID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
	}
}

func TestPodMACAndDisplay(t *testing.T) {
	if got := podMAC(netip.MustParseAddr("10.88.1.2")).String(); got != "0a:58:0a:58:01:02" {
		t.Errorf("podMAC = %s", got)
	}
	if got := podDisplay("default_web_x"); got != "default/web_x" {
		t.Errorf("podDisplay = %s", got)
	}
}

func TestPrefixMask(t *testing.T) {
	tests := []struct {
		bits int
		want []byte
	}{
		{0, []byte{0, 0, 0, 0}},
		{8, []byte{255, 0, 0, 0}},
		{20, []byte{255, 255, 240, 0}},
		{32, []byte{255, 255, 255, 255}},
	}
	for _, tt := range tests {
		if got := prefixMask(tt.bits); string(got) != string(tt.want) {
			t.Errorf("prefixMask(%d) = %v, want %v", tt.bits, got, tt.want)
		}
	}
}
