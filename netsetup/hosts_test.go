package netsetup

import "testing"

const hostsHeader = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

func TestHostsFile(t *testing.T) {
	tests := []struct {
		name      string
		ip, host  string
		subdomain string
		aliases   []HostAlias
		want      string
	}{
		{name: "plain", ip: "10.88.0.2", host: "web",
			want: hostsHeader + "10.88.0.2\tweb\n"},
		{name: "subdomain", ip: "10.88.0.2", host: "web", subdomain: "svc",
			want: hostsHeader + "10.88.0.2\tweb.svc\tweb\n"},
		{name: "aliases one line per hostname", ip: "10.88.0.2", host: "web",
			aliases: []HostAlias{{IP: "192.0.2.1", Hostnames: []string{"a", "b"}}, {IP: "::2", Hostnames: []string{"c"}}},
			want:    hostsHeader + "10.88.0.2\tweb\n\n# Entries added by HostAliases.\n192.0.2.1\ta\n192.0.2.1\tb\n::2\tc\n"},
		{name: "no pod ip", host: "web", want: hostsHeader},
		{name: "injection attempts left out", ip: "10.88.0.2", host: "web",
			aliases: []HostAlias{{IP: "1.2.3.4\n5.6.7.8", Hostnames: []string{"x"}}, {IP: "1.2.3.4", Hostnames: []string{"ok", "evil\n9.9.9.9 bank", "a b"}}},
			want:    hostsHeader + "10.88.0.2\tweb\n\n# Entries added by HostAliases.\n1.2.3.4\tok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(HostsFile(tt.ip, tt.host, tt.subdomain, tt.aliases)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
