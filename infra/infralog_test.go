package infra

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCappedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, InfraLogName)
	c, err := openCappedFile(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 39) + "\n" // 40 bytes
	for i := 0; i < 7; i++ {
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	// 7 lines of 40 bytes under a 100-byte cap: files of 2, 2, 2 and 1
	// lines; the current one and one previous generation remain.
	cur, _ := os.ReadFile(path)
	prev, _ := os.ReadFile(path + ".1")
	if len(cur) != 40 || len(prev) != 80 {
		t.Errorf("current %d bytes, previous %d bytes; want 40 and 80", len(cur), len(prev))
	}
	// Reopening continues the current file and its size.
	c2, err := openCappedFile(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	if c2.size != 40 {
		t.Errorf("reopened at size %d, want 40", c2.size)
	}
}

func TestCappedFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	os.WriteFile(target, nil, 0o600)
	if err := os.Symlink(target, filepath.Join(dir, InfraLogName)); err != nil {
		t.Fatal(err)
	}
	if _, err := openInfraLog(dir); err == nil {
		t.Fatal("opened a log through a symlink")
	}
}
