// Package testutil provides berth's test workload (the static examples/demo
// binary), a minimal rootfs and image around it, and small helpers that
// every privileged or end-to-end test needs.
package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/images"
)

// DefaultRef is the reference WorkloadImage uses when given none.
const DefaultRef = "berth.test/demo:latest"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// WorkloadBinary returns the path of the demo workload: $BERTH_TEST_WORKLOAD
// when set (a prebuilt binary, for machines without a Go toolchain),
// otherwise examples/demo built once per test binary as a static
// executable (CGO_ENABLED=0, -trimpath).
func WorkloadBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("BERTH_TEST_WORKLOAD"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("BERTH_TEST_WORKLOAD: %v", err)
		}
		return p
	}
	buildOnce.Do(func() { buildPath, buildErr = BuildWorkload() })
	if buildErr != nil {
		t.Fatalf("build test workload: %v", buildErr)
	}
	return buildPath
}

// RunTests runs a package's tests and then removes the workload
// WorkloadBinary built for them: a TestMain that uses the workload ends
// with os.Exit(testutil.RunTests(m)).
func RunTests(m *testing.M) int {
	code := m.Run()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	return code
}

// BuildWorkload builds examples/demo into a new temporary directory and
// returns the binary's path; the caller removes the directory (RunTests
// does for WorkloadBinary's build).
func BuildWorkload() (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("locate source of package testutil")
	}
	src := filepath.Join(filepath.Dir(self), "..", "..", "examples", "demo")
	dir, err := os.MkdirTemp("", "berth-workload-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "demo")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", src, err, b)
	}
	return out, nil
}

// WorkloadRootfs returns a fresh minimal rootfs: /bin/demo, /etc/passwd and
// /etc/group with root, nobody (65534) and app (1000:1000, also a member of
// staff, 50), an empty
// /etc/hostname, and /tmp with mode 1777. It is removed after the test.
func WorkloadRootfs(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	if err := WriteRootfs(root, WorkloadBinary(t)); err != nil {
		t.Fatalf("workload rootfs: %v", err)
	}
	return root
}

// WriteRootfs lays out WorkloadRootfs's files in the existing directory
// root, with bin (the demo workload) as /bin/demo.
func WriteRootfs(root, bin string) error {
	// A temp dir is 0700; an image's root is 0755, or non-root users could
	// not even enter it.
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/demo\n" +
			"app:x:1000:1000:app:/home/app:/bin/demo\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/demo\n",
		"etc/group":    "root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n",
		"etc/hostname": "",
	}
	for _, d := range []string{"bin", "etc", "tmp", "root", "home/app", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o777|os.ModeSticky); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "bin", "demo"), data, 0o755)
}

// WorkloadImage imports a WorkloadRootfs into the store at storeRoot under
// ref (DefaultRef when empty) and returns the image.
func WorkloadImage(t testing.TB, storeRoot, ref string) images.Image {
	t.Helper()
	if ref == "" {
		ref = DefaultRef
	}
	s, err := images.Open(storeRoot)
	if err != nil {
		t.Fatalf("open image store: %v", err)
	}
	img, err := s.ImportRootfs(WorkloadRootfs(t), ref)
	if err != nil {
		t.Fatalf("import workload image: %v", err)
	}
	return img
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: privileged test (namespaces, cgroups, mounts)")
	}
}

// WaitFor polls cond, with growing intervals up to 100ms, until it returns
// true; after timeout it fails the test naming what it waited for.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(wait)
		wait = min(wait*2, 100*time.Millisecond)
	}
}
