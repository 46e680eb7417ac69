package netsetup

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestResolvConf(t *testing.T) {
	str := func(s string) *string { return &s }
	host := []byte("# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch example.com corp.example\noptions edns0 ndots:2\n")
	stub := []byte("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n")
	many := &DNSConfig{Searches: make([]string, 0, 40)}
	for i := range 40 {
		many.Searches = append(many.Searches, fmt.Sprintf("s%d.example", i))
	}
	tests := []struct {
		name     string
		policy   string
		cfg      *DNSConfig
		host     []byte
		want     string
		warnings []string // substrings, in order
		wantErr  bool
	}{
		{name: "Default copies host", policy: "Default", host: host,
			want: "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch example.com corp.example\noptions edns0 ndots:2\n"},
		{name: "ClusterFirst falls back with warning", policy: "ClusterFirst", host: host,
			want:     "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch example.com corp.example\noptions edns0 ndots:2\n",
			warnings: []string{"no cluster DNS"}},
		{name: "empty policy is ClusterFirst", host: host,
			want:     "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch example.com corp.example\noptions edns0 ndots:2\n",
			warnings: []string{"dnsPolicy ClusterFirst"}},
		{name: "ClusterFirstWithHostNet merges dnsConfig", policy: "ClusterFirstWithHostNet", host: host,
			cfg: &DNSConfig{Nameservers: []string{"192.0.2.99", "192.0.2.53", "192.0.2.100"}, Searches: []string{"corp.example", "x.example"},
				Options: []DNSOption{{Name: "ndots", Value: str("5")}, {Name: "rotate"}}},
			want:     "nameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 192.0.2.99\nsearch example.com corp.example x.example\noptions edns0 ndots:5 rotate\n",
			warnings: []string{"no cluster DNS", "only the first 3"}},
		{name: "None uses only dnsConfig", policy: "None", host: host,
			cfg:  &DNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"}},
			want: "nameserver 1.1.1.1\nsearch a.example\n"},
		{name: "None without nameservers", policy: "None", cfg: &DNSConfig{Searches: []string{"a"}}, wantErr: true},
		{name: "None without dnsConfig", policy: "None", wantErr: true},
		{name: "unknown policy", policy: "Cluster", host: host, wantErr: true},
		{name: "stub resolver dropped", policy: "Default", host: stub,
			want:     "search .\noptions edns0 trust-ad\n",
			warnings: []string{"127.0.0.53 is a loopback", "no nameserver"}},
		{name: "searches capped at 32", policy: "Default", cfg: many,
			want:     "search " + strings.Join(many.Searches[:32], " ") + "\n",
			warnings: []string{"40 search domains", "no nameserver"}},
		{name: "bad nameserver", policy: "Default", cfg: &DNSConfig{Nameservers: []string{"dns.example"}}, wantErr: true},
		{name: "option with newline", policy: "Default", cfg: &DNSConfig{Options: []DNSOption{{Name: "a\nnameserver 6.6.6.6"}}}, wantErr: true},
		{name: "domain line becomes search", policy: "Default", host: []byte("domain lan\nnameserver 192.0.2.1\n"),
			want: "nameserver 192.0.2.1\nsearch lan\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := ResolvConf(tt.policy, tt.cfg, tt.host)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidDNS) {
					t.Fatalf("err = %v, want ErrInvalidDNS", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if len(warnings) != len(tt.warnings) || !slices.EqualFunc(warnings, tt.warnings, strings.Contains) {
				t.Errorf("warnings %q, want ones containing %q", warnings, tt.warnings)
			}
		})
	}
}
