package main

import (
	"net/netip"
	"testing"
)

func TestScaleCIDR(t *testing.T) {
	tests := []struct {
		pods int
		a, b byte
		want string
	}{
		{100, 0, 0, "10.150.0.0/23"},
		{255, 3, 7, "10.153.6.0/23"},
		{300, 3, 7, "10.153.4.0/22"},
		{1000, 41, 13, "10.151.8.0/21"},
		{5000, 0, 255, "10.150.192.0/18"},
	}
	for _, tt := range tests {
		got := scaleCIDR(tt.pods, tt.a, tt.b)
		if got.String() != tt.want {
			t.Errorf("scaleCIDR(%d, %d, %d) = %s, want %s", tt.pods, tt.a, tt.b, got, tt.want)
		}
		if size := cidrSize(got.String()); size < 2*tt.pods {
			t.Errorf("scaleCIDR(%d) = %s holds %d addresses, fewer than twice the pods", tt.pods, got, size)
		}
	}
}

func TestOverlapsAny(t *testing.T) {
	used := []netip.Prefix{netip.MustParsePrefix("10.183.20.0/23"), netip.MustParsePrefix("192.0.2.0/24")}
	if !overlapsAny(netip.MustParsePrefix("10.183.16.0/21"), used) {
		t.Error("a /21 holding a used /23 does not overlap")
	}
	if overlapsAny(netip.MustParsePrefix("10.183.24.0/21"), used) {
		t.Error("a /21 next to a used /23 overlaps")
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("100, 1000,")
	if err != nil || len(got) != 2 || got[0] != 100 || got[1] != 1000 {
		t.Fatalf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"0", "x", "100,-1"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}

func TestFdKind(t *testing.T) {
	tests := map[string]string{
		"socket:[123]":                "socket",
		"pipe:[9]":                    "pipe",
		"anon_inode:[pidfd]":          "anon_inode:[pidfd]",
		"anon_inode:inotify":          "anon_inode:inotify",
		"/memfd:berth-init (deleted)": "memfd",
		"/var/lib/berth/net/lock":     "file",
	}
	for link, want := range tests {
		if got := fdKind(link); got != want {
			t.Errorf("fdKind(%q) = %q, want %q", link, got, want)
		}
	}
}

func TestParseThreads(t *testing.T) {
	n, err := parseThreads("Name:\tberth\nThreads:\t12\nSigQ:\t0/1\n")
	if err != nil || n != 12 {
		t.Fatalf("parseThreads = %d, %v", n, err)
	}
	if _, err := parseThreads("Name:\tberth\n"); err == nil {
		t.Error("no Threads line accepted")
	}
}

func TestHybridHolds(t *testing.T) {
	if !hybridHolds("hugetlb\n", "hugetlb") || hybridHolds("cpu memory\n", "hugetlb") || hybridHolds("", "hugetlb") {
		t.Error("hybridHolds misreads cgroup.controllers")
	}
}
