//go:build !berthlean

package api

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestListenModes checks the socket's mode and group: 0600 root-only by
// default, 0660 with the group asked for; a stale socket is replaced, and
// closing the listener removes the socket.
func TestListenModes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the socket is chowned to a group")
	}
	for _, tt := range []struct {
		name string
		gid  int
		mode os.FileMode
	}{
		{"root only", -1, 0o600},
		{"with group", 4242, 0o660},
	} {
		sock := filepath.Join(t.TempDir(), "run", "berth.sock")
		// A stale socket from a crashed daemon.
		stale, err := Listen(sock, -1)
		if err != nil {
			t.Fatal(err)
		}
		stale.(*socketListener).UnixListener.Close()
		l, err := Listen(sock, tt.gid)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		fi, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		wantGID := uint32(0)
		if tt.gid >= 0 {
			wantGID = uint32(tt.gid)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != tt.mode || st.Uid != 0 || st.Gid != wantGID {
			t.Errorf("%s: socket %v uid %d gid %d, want socket %v uid 0 gid %d", tt.name, fi.Mode(), st.Uid, st.Gid, tt.mode, wantGID)
		}
		if c, err := net.Dial("unix", sock); err != nil {
			t.Errorf("%s: dial: %v", tt.name, err)
		} else {
			c.Close()
		}
		ents, _ := os.ReadDir(filepath.Dir(sock))
		if len(ents) != 1 {
			t.Errorf("%s: socket directory holds %d entries, want only the socket", tt.name, len(ents))
		}
		if err := l.Close(); err != nil {
			t.Errorf("%s: close: %v", tt.name, err)
		}
		if _, err := os.Lstat(sock); !os.IsNotExist(err) {
			t.Errorf("%s: socket left after Close: %v", tt.name, err)
		}
	}
}

func TestLookupGroup(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"root", 0, false},
		{"0", 0, false},
		{"no-such-group-berth", 0, true},
	} {
		got, err := LookupGroup(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("LookupGroup(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
