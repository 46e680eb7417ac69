package netsetup

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestLeaseStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	pool := addrRange{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.6")}
	s, err := openStore(dir, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })

	if _, err := openStore(dir, pool); !errors.Is(err, ErrStateLocked) {
		t.Fatalf("second open: err = %v, want ErrStateLocked", err)
	}
	a, err := s.reserve("ns_a")
	if err != nil || a != netip.MustParseAddr("10.0.0.2") {
		t.Fatalf("reserve a = %v, %v", a, err)
	}
	again, err := s.reserve("ns_a")
	if err != nil || again != a {
		t.Fatalf("reserve a again = %v, %v; want the same lease", again, err)
	}
	b, err := s.reserve("ns_b")
	if err != nil || b != netip.MustParseAddr("10.0.0.3") {
		t.Fatalf("reserve b = %v, %v", b, err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "10.0.0.3")); err != nil || string(data) != "ns_b" {
		t.Fatalf("lease file = %q, %v", data, err)
	}
	if err := s.releasePod("ns_a"); err != nil {
		t.Fatal(err)
	}
	if err := s.releasePod("ns_a"); err != nil {
		t.Fatalf("release twice: %v", err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	// Leases and the allocation cursor survive a reopen.
	s2, err := openStore(dir, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.close() })
	if ip, ok := s2.lookup("ns_b"); !ok || ip != b {
		t.Fatalf("lookup b after reopen = %v, %v", ip, ok)
	}
	if _, ok := s2.lookup("ns_a"); ok {
		t.Fatal("released lease came back")
	}
	c, err := s2.reserve("ns_c")
	if err != nil || c != netip.MustParseAddr("10.0.0.4") {
		t.Fatalf("reserve c = %v, %v; want 10.0.0.4 (after last reserved)", c, err)
	}
	for _, id := range []string{"ns_d", "ns_e", "ns_f"} {
		if _, err := s2.reserve(id); err != nil {
			t.Fatalf("reserve %s: %v", id, err)
		}
	}
	if _, err := s2.reserve("ns_g"); !errors.Is(err, ErrRangeExhausted) {
		t.Fatalf("reserve in full pool: err = %v, want ErrRangeExhausted", err)
	}
}

// TestLeaseStoreRemovesStaleTemp opens a store whose last writer was
// killed between writing a lease's temp file and renaming it (found by
// hack/chaos): the temp file goes, the leases stay.
func TestLeaseStoreRemovesStaleTemp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	pool := addrRange{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.6")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".10.0.0.3.tmp-601385991")
	for p, data := range map[string]string{filepath.Join(dir, "10.0.0.2"): "ns_a", stale: "ns_b"} {
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := openStore(dir, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file: %v, want it removed", err)
	}
	if ip, ok := s.lookup("ns_a"); !ok || ip != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("lease of ns_a = %v, %v; want 10.0.0.2 kept", ip, ok)
	}
}
