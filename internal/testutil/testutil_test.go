package testutil

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWorkloadBinaryRuns(t *testing.T) {
	bin := WorkloadBinary(t)
	tests := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"print-lines", "2"}, "line 1\nline 2\n", 0},
		{[]string{"exit", "7"}, "", 7},
		{[]string{"sleep", "10ms"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := exec.Command(bin, tt.args...).Output()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || string(out) != tt.want {
				t.Fatalf("got %q exit %d, want %q exit %d", out, code, tt.want, tt.code)
			}
		})
	}
}

func TestWorkloadSIGTERM(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(WorkloadBinary(t), "serve", "--port", port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// The server listens only after the SIGTERM handler is installed.
	WaitFor(t, 10*time.Second, "demo serve to answer /healthz", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo after SIGTERM: %v", err)
	}
}

func TestWorkloadImage(t *testing.T) {
	img := WorkloadImage(t, filepath.Join(t.TempDir(), "store"), "")
	if len(img.Layers) != 1 || len(img.Refs) != 1 || img.Refs[0] != DefaultRef {
		t.Fatalf("image = %+v", img)
	}
	for _, p := range []string{"bin/demo", "etc/passwd", "etc/group", "etc/hostname"} {
		if _, err := os.Stat(filepath.Join(img.Layers[0], p)); err != nil {
			t.Errorf("layer: %v", err)
		}
	}
	st, err := os.Stat(filepath.Join(img.Layers[0], "tmp"))
	if err != nil || st.Mode().Perm() != 0o777 || st.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp: %v %v", st.Mode(), err)
	}
}

func TestMain(m *testing.M) { os.Exit(RunTests(m)) }
