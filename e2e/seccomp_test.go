package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// seccompBlocked are the lines `demo syscalls` prints under Docker's
// default profile.
var seccompBlocked = []string{
	"Seccomp: 2", "keyctl: EPERM", "io_uring_setup: EPERM", "socket(AF_VSOCK): EPERM",
	"unshare(CLONE_NEWUSER): EPERM", "bpf: EPERM", "perf_event_open: EPERM",
}

// TestSeccomp: a pod that says nothing runs under RuntimeDefault, and so
// does `berth exec` into it; Unconfined runs without a filter; a Localhost
// profile is read from <state>/seccomp, and a path out of it is refused.
func TestSeccomp(t *testing.T) {
	d := startDaemon(t)
	profiles := filepath.Join(d.state, "seccomp")
	if err := os.MkdirAll(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	// Everything allowed but keyctl, which fails with EACCES.
	profile := `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`
	if err := os.WriteFile(filepath.Join(profiles, "keyctl.json"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	// A profile outside the directory, and a symlink to it from inside.
	if err := os.WriteFile(filepath.Join(d.state, "outside.json"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside.json", filepath.Join(profiles, "escape.json")); err != nil {
		t.Fatal(err)
	}
	d.apply("seccomp.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: dflt
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "syscalls"]
---
apiVersion: v1
kind: Pod
metadata:
  name: nnp
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "syscalls"]
    securityContext:
      runAsUser: 1000
      allowPrivilegeEscalation: false
      seccompProfile: {type: RuntimeDefault}
---
apiVersion: v1
kind: Pod
metadata:
  name: unconfined
spec:
  securityContext:
    seccompProfile: {type: Unconfined}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "syscalls"]
---
apiVersion: v1
kind: Pod
metadata:
  name: local
spec:
  securityContext:
    seccompProfile: {type: Unconfined}
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "syscalls"]
    securityContext:
      seccompProfile: {type: Localhost, localhostProfile: keyctl.json}
`)
	logs := func(pod string) string {
		var out string
		testutil.WaitFor(t, 30*time.Second, "pod "+pod+" to print its syscalls", func() bool {
			out, _ = d.berth("logs", pod)
			return strings.Contains(out, "perf_event_open:")
		})
		return out
	}

	t.Run("default is RuntimeDefault", func(t *testing.T) {
		// Without no_new_privs (root) the filter is loaded before the
		// credentials change, with it (uid 1000) just before execve.
		for _, pod := range []string{"dflt", "nnp"} {
			out := logs(pod)
			for _, want := range seccompBlocked {
				if !strings.Contains(out, want) {
					t.Errorf("pod %s: no %q in:\n%s", pod, want, out)
				}
			}
		}
	})

	t.Run("exec gets the container's filter", func(t *testing.T) {
		for _, pod := range []string{"dflt", "nnp"} {
			out := d.mustBerth("exec", pod, "--", "/bin/demo", "syscalls")
			for _, want := range seccompBlocked {
				if !strings.Contains(out, want) {
					t.Errorf("exec into pod %s: no %q in:\n%s", pod, want, out)
				}
			}
		}
		if out := d.mustBerth("exec", "unconfined", "--", "/bin/demo", "syscalls"); !strings.Contains(out, "Seccomp: 0") {
			t.Errorf("exec into an Unconfined container:\n%s", out)
		}
	})

	t.Run("Unconfined", func(t *testing.T) {
		out := logs("unconfined")
		// The kernel answers: the demo's arguments make some calls fail,
		// with errors of their own.
		for _, want := range []string{"Seccomp: 0", "keyctl: ok", "unshare(CLONE_NEWUSER): EINVAL", "perf_event_open: E2BIG"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in:\n%s", want, out)
			}
		}
	})

	t.Run("Localhost", func(t *testing.T) {
		out := logs("local")
		for _, want := range []string{"Seccomp: 2", "keyctl: EACCES", "unshare(CLONE_NEWUSER): EINVAL"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in:\n%s", want, out)
			}
		}
	})

	t.Run("Localhost path out of the directory", func(t *testing.T) {
		p := filepath.Join(d.dir, "climb.yaml")
		if err := os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: climb
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    securityContext:
      seccompProfile: {type: Localhost, localhostProfile: ../outside.json}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := d.berth("apply", "-f", p)
		if err == nil || !strings.Contains(out, "spec.containers[0].securityContext.seccompProfile.localhostProfile") {
			t.Errorf("apply of ../outside.json: err %v, output:\n%s", err, out)
		}

		// A symlink inside the directory resolves inside it: the profile
		// it points at outside is never read.
		p = filepath.Join(d.dir, "link.yaml")
		if err := os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: link
spec:
  containers:
  - name: app
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
    securityContext:
      seccompProfile: {type: Localhost, localhostProfile: escape.json}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err = d.berth("apply", "-f", p, "--timeout", "20s")
		if err == nil || !strings.Contains(out, "seccompProfile.localhostProfile") || !strings.Contains(out, "not found") {
			t.Errorf("apply of a symlink out of the profile directory: err %v, output:\n%s", err, out)
		}
	})
}
