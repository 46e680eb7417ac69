package sealed

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if os.Getenv("SEALED_TEST_CHILD") == "1" {
		exe, _ := os.Readlink("/proc/self/exe")
		os.Stdout.WriteString(exe)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild executes the copy in child mode and returns what /proc/self/exe
// reads in it.
func runChild(t *testing.T, b *Binary) string {
	t.Helper()
	cmd := exec.Command(b.Path)
	cmd.Env = append(os.Environ(), "SEALED_TEST_CHILD=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exec sealed copy %s: %v", b.Path, err)
	}
	return string(out)
}

// checkSealed fails unless b is a memfd sealed against writes and further
// seals, and a write through its path fails.
func checkSealed(t *testing.T, b *Binary) {
	t.Helper()
	seals, err := unix.FcntlInt(b.file.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if seals&unix.F_SEAL_WRITE == 0 || seals&unix.F_SEAL_SEAL == 0 {
		t.Errorf("seals %#x lack WRITE or SEAL", seals)
	}
	f, err := os.OpenFile(b.Path, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Write([]byte("x"))
		f.Close()
	}
	if err == nil {
		t.Error("writing to the sealed copy succeeded")
	}
}

func TestSealedCopyRunsAndRefusesWrites(t *testing.T) {
	b, err := Seal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	out := runChild(t, b)
	if b.file == nil {
		return // vm.memfd_noexec is set: the fallback test covers this case
	}
	if !strings.HasPrefix(out, "/memfd:berth") {
		t.Errorf("child runs from %q, want the memfd", out)
	}
	checkSealed(t, b)
}

func TestSealReaderRunsAndRefusesWrites(t *testing.T) {
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := SealReader("berth-sealtest", bytes.NewReader(self), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	out := runChild(t, b)
	if b.file == nil {
		return
	}
	if !strings.HasPrefix(out, "/memfd:berth-sealtest") {
		t.Errorf("child runs from %q, want the memfd berth-sealtest", out)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(b.file.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(len(self)) {
		t.Errorf("memfd holds %d bytes, want %d", st.Size, len(self))
	}
	checkSealed(t, b)
}

func TestSealReaderRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "../x", "a\x00b"} {
		if b, err := SealReader(name, strings.NewReader("x"), t.TempDir()); err == nil {
			b.Close()
			t.Errorf("SealReader(%q) succeeded", name)
		}
	}
}

// TestFallbackCopy covers the path taken when vm.memfd_noexec forbids
// executing memfds: a 0500 copy in a 0700 directory that it creates.
func TestFallbackCopy(t *testing.T) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	dir := filepath.Join(t.TempDir(), "bin")
	// Copies of earlier daemons (other pids) go; other names stay. The
	// directory is tightened to 0700 if it exists with a looser mode.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale, other := filepath.Join(dir, "berth-init.1"), filepath.Join(dir, "berth.1")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, nil, 0o500); err != nil {
			t.Fatal(err)
		}
	}
	b, err := copyToDir("berth-init", self, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("an earlier daemon's copy %s was kept: %v", stale, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a copy under another name was removed: %v", err)
	}
	want := filepath.Join(dir, "berth-init."+strconv.Itoa(os.Getpid()))
	if b.Path != want {
		t.Errorf("Path = %s, want %s", b.Path, want)
	}
	if out := runChild(t, b); out != want {
		t.Errorf("child runs from %q, want %q", out, want)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, want: 0o500} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", path, st.Mode(), mode)
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close of a directory copy: %v", err)
	}

	// A missing parent (the run directory, before any daemon made it) is
	// made as the daemon makes it, 0755, so that the API socket's group
	// can still reach the socket in it.
	run := filepath.Join(t.TempDir(), "run")
	if _, err := self.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := copyToDir("berth-full", self, filepath.Join(run, "bin")); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{run: 0o755 | os.ModeDir, filepath.Join(run, "bin"): 0o700 | os.ModeDir} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", path, st.Mode(), mode)
		}
	}
}

// TestSealRetriedWhileBusy: a seal the kernel refuses with EBUSY (a page
// of the memfd briefly referenced elsewhere) is asked again, and the copy
// ends up sealed; one refused past the retries fails with EBUSY.
func TestSealRetriedWhileBusy(t *testing.T) {
	orig := addSeals
	t.Cleanup(func() { addSeals = orig })
	for _, tt := range []struct {
		busy int
		ok   bool
	}{{busy: 2, ok: true}, {busy: sealRetries + 1, ok: false}} {
		calls := 0
		addSeals = func(f *os.File, seals int) error {
			calls++
			if calls <= tt.busy {
				return unix.EBUSY
			}
			return orig(f, seals)
		}
		b, err := SealReader("busy", bytes.NewReader([]byte("#!/bin/true\n")), t.TempDir())
		if !tt.ok {
			if !errors.Is(err, unix.EBUSY) || calls != sealRetries+1 {
				t.Errorf("busy %d times: %v after %d calls, want EBUSY after %d", tt.busy, err, calls, sealRetries+1)
			}
			continue
		}
		if err != nil {
			t.Fatalf("busy %d times: %v", tt.busy, err)
		}
		checkSealed(t, b)
		b.Close()
		if calls != tt.busy+1 {
			t.Errorf("busy %d times: %d calls, want %d", tt.busy, calls, tt.busy+1)
		}
	}
}
