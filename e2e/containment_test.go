package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/internal/testutil"
)

// TestExecCapabilitiesIgnoreTheContainersProc: a container that may mount
// (CAP_SYS_ADMIN added) hides its /proc/sys/kernel under a tmpfs with a
// fake cap_last_cap of 1. `berth exec` must still bound the command to the
// container's own set; taking the bound from the container's /proc left
// every capability in place.
func TestExecCapabilitiesIgnoreTheContainersProc(t *testing.T) {
	d := startDaemon(t)
	d.apply("fakeproc.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: fakeproc
spec:
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "overmount", "/proc/sys/kernel", "cap_last_cap", "1"]
    securityContext:
      capabilities: {add: [SYS_ADMIN]}
      seccompProfile: {type: Unconfined}
`)
	testutil.WaitFor(t, 20*time.Second, "the fake cap_last_cap", func() bool {
		out, err := d.berth("exec", "fakeproc", "--", "/bin/demo", "read", "/proc/sys/kernel/cap_last_cap")
		return err == nil && out == "1\n"
	})
	// Docker's 14 default capabilities (0xa80425fb) plus CAP_SYS_ADMIN (21).
	const want = "00000000a82425fb"
	out := d.mustBerth("exec", "fakeproc", "--", "/bin/demo", "id")
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if !strings.Contains(out, k+": "+want+"\n") {
			t.Errorf("exec in a container with a fake cap_last_cap: want %s: %s, got:\n%s", k, want, out)
		}
	}
}

// TestHostileImageNeverStallsTheDaemon: an image whose /etc/passwd is a
// FIFO (the init stage reads it to resolve the user) fails its container
// with CreateContainerError and stalls nothing: another pod is created,
// runs and is deleted meanwhile, and a daemon killed and started again
// answers at once.
func TestHostileImageNeverStallsTheDaemon(t *testing.T) {
	d := startDaemon(t)
	root := testutil.WorkloadRootfs(t)
	passwd := filepath.Join(root, "etc", "passwd")
	if err := os.Remove(passwd); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(passwd, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := images.Open(filepath.Join(d.state, "images"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportRootfs(root, "berth.test/fifo:latest"); err != nil {
		t.Fatal(err)
	}
	// Placed directly: `berth apply` would wait for it to run.
	if err := os.WriteFile(filepath.Join(d.manifests, "fifo.yaml"), []byte(`apiVersion: v1
kind: Pod
metadata:
  name: fifo
spec:
  containers:
  - name: main
    image: berth.test/fifo:latest
    command: ["/bin/demo", "sleep"]
    securityContext: {runAsUser: 1000}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 20*time.Second, "pod fifo to be seen", func() bool {
		out, err := d.berthWithin(5*time.Second, "get", "pods")
		return err == nil && strings.Contains(out, "fifo")
	})

	// Another pod comes and goes within seconds meanwhile.
	p := filepath.Join(d.dir, "ok.yaml")
	if err := os.WriteFile(p, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: ok
spec:
  # The demo may not have set up its SIGTERM handler yet when the delete
  # comes, and as its pid namespace's init it then ignores the signal:
  # a short grace keeps the delete about the daemon, not the workload.
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := d.berthWithin(20*time.Second, "apply", "-f", p, "--timeout", "15s"); err != nil {
		t.Fatalf("a normal pod beside the hostile one did not run: %v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(d.manifests, "ok.yaml")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "pod ok to be deleted", func() bool {
		out, err := d.berthWithin(5*time.Second, "get", "pods")
		return err == nil && !strings.Contains(out, "ok ")
	})

	// A daemon killed and started again opens its socket at once: its
	// recovery waits on no pod.
	d.stop(syscall.SIGKILL)
	began := time.Now()
	d.start()
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("the restarted daemon answered after %s", took)
	}
	testutil.WaitFor(t, 20*time.Second, "pod fifo to show CreateContainerError", func() bool {
		out, err := d.berthWithin(5*time.Second, "get", "pods")
		return err == nil && strings.Contains(out, "CreateContainerError")
	})
	out, err := d.berthWithin(5*time.Second, "describe", "pod", "fifo")
	if err != nil {
		t.Fatalf("describe pod fifo: %v\n%s", err, out)
	}
	for _, want := range []string{"CreateContainerError", "/etc/passwd is not a regular file"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe pod fifo: want %q in:\n%s", want, out)
		}
	}
}

// berthWithin runs the CLI against d like d.berth, killed after timeout: a
// stalled daemon must fail the test, not hang it.
func (d *daemon) berthWithin(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, d.args(args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("berth %s: no answer within %s", strings.Join(args, " "), timeout)
	}
	return out.String(), err
}
