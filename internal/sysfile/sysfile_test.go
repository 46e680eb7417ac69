package sysfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteExisting(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteExisting(p, "1"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("write to a missing file: %v, want it refused, never created", err)
	}
	if _, err := os.Stat(p); err == nil {
		t.Fatal("the missing file was created")
	}
	if err := os.WriteFile(p, []byte("old value"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteExisting(p, "new"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new value" {
		t.Errorf("file holds %q: the write must not truncate (control files take one value per write)", b)
	}
}
