package infra

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestListenSocket: the control socket is a 0600 socket in the root-only
// directory, answers, replaces a stale one and is gone once closed.
func TestListenSocket(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "infra.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listen(path); err == nil {
		t.Fatal("listen over a regular file succeeded")
	}
	os.Remove(path)
	for round := range 2 { // the second over the first's stale socket
		ln, err := listen(path)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
			t.Errorf("round %d: socket mode %v, want a 0600 socket", round, fi.Mode())
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("round %d: dial: %v", round, err)
		}
		s, err := ln.AcceptUnix()
		if err != nil {
			t.Fatalf("round %d: accept: %v", round, err)
		}
		s.Close()
		c.Close()
		if round == 0 {
			// A stale socket: the listener's fd closed without its
			// unlink, as when an infra dies.
			f, err := ln.File()
			if err != nil {
				t.Fatal(err)
			}
			ln.SetUnlinkOnClose(false)
			ln.Close()
			f.Close()
			continue
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket left after close: %v", err)
		}
	}
}
