package images

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestPartialLockedAndPlaced(t *testing.T) {
	s := openStore(t)
	d := digest.FromString("blob")
	p, err := s.OpenPartial(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteString("blob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenPartial(d); !errors.Is(err, ErrPartialBusy) {
		t.Fatalf("second open of a held partial: %v", err)
	}
	if n, err := s.RemovePartials(0, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("RemovePartials took a held partial: %d, %v", n, err)
	}
	dst := filepath.Join(s.root, "tmp", "placed") // on the store's file system, as a pull's work dir
	if err := p.Place(dst); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dst) })
	// The next download gets a new, empty file, not the placed one.
	q, err := s.OpenPartial(d)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if info, err := q.Stat(); err != nil || info.Size() != 0 {
		t.Errorf("partial after Place: %v, %v", info, err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "blob" {
		t.Errorf("placed blob %q, %v", b, err)
	}
}

func TestRemovePartials(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		written time.Duration // before now
		maxAge  time.Duration
		removed bool
	}{
		{"idle a day", 25 * time.Hour, PartialMaxAge, true},
		{"recent", time.Hour, PartialMaxAge, false},
		{"prune takes all", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			p := filepath.Join(s.partialDir(), strings.Repeat("a", 64))
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			at := now.Add(-tc.written)
			if err := os.Chtimes(p, at, at); err != nil {
				t.Fatal(err)
			}
			n, err := s.RemovePartials(tc.maxAge, now)
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(p)
			if gone := errors.Is(statErr, os.ErrNotExist); gone != tc.removed || (n == 1) != tc.removed {
				t.Errorf("removed %d, file gone %v; want removed %v", n, gone, tc.removed)
			}
		})
	}
}
