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
