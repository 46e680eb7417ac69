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

func TestWriteExistingAt(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := WriteExistingAt(d, "f", "1"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("write to a missing file: %v, want it refused, never created", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("old value"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteExistingAt(d, "f", "new"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "new value" {
		t.Errorf("file holds %q, want %q", b, "new value")
	}
}
