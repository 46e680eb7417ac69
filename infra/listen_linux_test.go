package infra

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestControlSocket: the control socket is a 0600 socket in the root-only
// directory that queues connections before the infra serves it, replaces
// a stale one, and is gone once the infra's listener closes.
func TestControlSocket(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "infra.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := controlSocket(path); err == nil {
		t.Fatal("a control socket over a regular file was made")
	}
	os.Remove(path)
	for round := range 2 { // the second over the first's stale socket
		f, err := controlSocket(path)
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
		// A client connects and writes before anything serves the socket.
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("round %d: dial before serving: %v", round, err)
		}
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("round %d: write before serving: %v", round, err)
		}
		// The infra's side: the launcher passes the fd on and closes its
		// own copy.
		fd, err := unix.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		ln, err := inheritedListener(fd)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		s, err := ln.AcceptUnix()
		if err != nil {
			t.Fatalf("round %d: accept: %v", round, err)
		}
		var b [1]byte
		if _, err := s.Read(b[:]); err != nil || b[0] != 'x' {
			t.Errorf("round %d: read %q, %v: want what was written before serving", round, b[:], err)
		}
		s.Close()
		c.Close()
		if round == 0 {
			// A stale socket: the listener's fd closed without its
			// unlink, as when an infra dies.
			ln.SetUnlinkOnClose(false)
			ln.Close()
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

// TestControlSocketRefusesAnOpenDirectory: the socket goes only into a
// root-owned 0700 directory.
func TestControlSocketRefusesAnOpenDirectory(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if f, err := controlSocket(filepath.Join(dir, "infra.sock")); !errors.Is(err, errUnsafeSocketDir) {
		if f != nil {
			f.Close()
		}
		t.Fatalf("controlSocket in a 0755 directory: %v, want %v", err, errUnsafeSocketDir)
	}
}
