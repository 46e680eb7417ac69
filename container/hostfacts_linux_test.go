package container

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// LastCap asks the kernel; on the host it must agree with the file it
// replaces.
func TestLastCapIsTheKernels(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skipf("no cap_last_cap to compare with: %v", err)
	}
	want, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := LastCap()
	if err != nil || got != want {
		t.Errorf("LastCap() = %d, %v; cap_last_cap says %d", got, err, want)
	}
}

func TestReadUserFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "passwd")
	if err := os.WriteFile(regular, []byte("app:x:1000:1000::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large")
	if err := os.WriteFile(large, make([]byte, MaxUserFile+1), 0o644); err != nil {
		t.Fatal(err)
	}
	atCap := filepath.Join(dir, "atcap")
	if err := os.WriteFile(atCap, make([]byte, MaxUserFile), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		wantLen    int
		wantNil    bool
		wantErr    string
	}{
		{name: "regular", path: regular, wantLen: 27},
		{name: "at the cap", path: atCap, wantLen: MaxUserFile},
		{name: "missing", path: filepath.Join(dir, "none"), wantNil: true},
		{name: "fifo never blocks", path: fifo, wantErr: "not a regular file"},
		{name: "directory", path: dir, wantErr: "not a regular file"},
		{name: "above the cap", path: large, wantErr: "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReadUserFile(tc.path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ReadUserFile(%s) error %v, want %q", tc.path, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantNil {
				if r != nil {
					t.Fatalf("ReadUserFile(%s) = %v, want nil", tc.path, r)
				}
				return
			}
			b, err := io.ReadAll(r)
			if err != nil || len(b) != tc.wantLen {
				t.Fatalf("ReadUserFile(%s) read %d bytes, %v; want %d", tc.path, len(b), err, tc.wantLen)
			}
		})
	}
}
