package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

var writers = []struct {
	name  string
	write func(string, []byte, os.FileMode) error
}{
	{"WriteFile", WriteFile},
	{"Replace", Replace},
	{"Place", placeAndSync},
}

func placeAndSync(path string, data []byte, perm os.FileMode) error {
	p, err := Place(path, data, perm)
	if err != nil {
		return err
	}
	return p.Sync()
}

// TestPlaceIsReadableBeforeSync: a reader of the directory sees the new
// content, new file or replacement, before Sync is called.
func TestPlaceIsReadableBeforeSync(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pod.yaml")
	for _, content := range []string{"new", "replaced"} {
		pl, err := Place(p, []byte(content), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(p); err != nil || string(got) != content {
			t.Fatalf("before Sync read %q, %v; want %q", got, err, content)
		}
		if err := pl.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplacesAndLeavesNoTemp(t *testing.T) {
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "state.json")
			for _, content := range []string{"one", "two, longer"} {
				if err := w.write(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(p)
				if err != nil || string(got) != content {
					t.Fatalf("read back %q, %v; want %q", got, err, content)
				}
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("directory holds %d entries, want only the target", len(ents))
			}
		})
	}
}

func TestMissingDir(t *testing.T) {
	for _, w := range writers {
		if err := w.write(filepath.Join(t.TempDir(), "no", "x"), nil, 0o600); err == nil {
			t.Fatalf("%s: want an error for a missing directory", w.name)
		}
	}
}

func TestIsTemp(t *testing.T) {
	cases := []struct {
		name string
		want bool
	}{
		{".10.0.0.5.tmp-123456", true},
		{".pod.json.tmp-1", true},
		{"10.0.0.5", false},
		{".lock", false},
		{"lock", false},
		{"x.tmp-1", false},
		{".tmp-1", false},
		{".x.tmp-", false},
	}
	for _, tc := range cases {
		if got := IsTemp(tc.name); got != tc.want {
			t.Errorf("IsTemp(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRemoveStale leaves the temp file of a write killed before its
// rename (made as write makes it) beside real files: only the temp goes.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	f, err := os.CreateTemp(dir, ".10.0.0.5"+tempMarker+"*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	keep := []string{"10.0.0.5", ".lock", "last_reserved_ip"}
	for _, n := range keep {
		if err := Replace(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveStale(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("stale temp %s: %v, want it removed", f.Name(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(keep) {
		t.Errorf("%d entries left, want %v", len(ents), keep)
	}
	if err := RemoveStale(filepath.Join(dir, "missing")); err == nil {
		t.Error("RemoveStale of a missing dir succeeded")
	}
}
