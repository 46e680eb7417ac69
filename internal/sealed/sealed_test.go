package sealed

import (
	"os"
	"os/exec"
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

func TestSealedCopyRunsAndRefusesWrites(t *testing.T) {
	b, err := Seal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	cmd := exec.Command(b.Path)
	cmd.Env = append(os.Environ(), "SEALED_TEST_CHILD=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exec sealed copy %s: %v", b.Path, err)
	}
	if b.file != nil && !strings.HasPrefix(string(out), "/memfd:berth") {
		t.Errorf("child runs from %q, want the memfd", out)
	}
	if b.file == nil {
		return
	}
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
