package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// containerPID is a running container's host PID, from its status.
func containerPID(t *testing.T, p api.Pod, name string) int {
	t.Helper()
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == name && c.State.Running != nil {
			pid, err := strconv.Atoi(strings.TrimPrefix(c.ContainerID, "berth://"))
			if err == nil {
				return pid
			}
		}
	}
	t.Fatalf("container %s of pod %s is not running: %s", name, p.Metadata.Name, toJSON(p.Status))
	return 0
}

func nsLink(t *testing.T, pid int, ns string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// utsHostname reads the hostname of pid's UTS namespace.
func utsHostname(t *testing.T, pid int) string {
	t.Helper()
	ch := make(chan string)
	go func() {
		runtime.LockOSThread() // the thread is left to die: its UTS namespace changed
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/uts", pid))
		if err != nil {
			ch <- "error: " + err.Error()
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWUTS); err != nil {
			ch <- "error: " + err.Error()
			return
		}
		var u unix.Utsname
		unix.Uname(&u)
		ch <- unix.ByteSliceToString(u.Nodename[:])
	}()
	return <-ch
}

// logOf returns the CRI log of a container's run (0 = first).
func (d *daemon) logOf(p api.Pod, container string, run int) string {
	dir := filepath.Join(d.logs, p.Metadata.Namespace+"_"+p.Metadata.Name+"_"+p.Metadata.UID, container)
	b, _ := os.ReadFile(filepath.Join(dir, strconv.Itoa(run)+".log"))
	return string(b)
}

func TestTwoContainerPodSharesNamespacesAndEmptyDir(t *testing.T) {
	d := startDaemon(t)
	d.apply("duo.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: duo
spec:
  hostname: duo-host
  volumes:
  - name: shared
    emptyDir: {}
  containers:
  - name: writer
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "publish", "/shared/msg", "hello from writer"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: reader
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "wait-read", "/shared/msg"]
    volumeMounts: [{name: shared, mountPath: /shared}]
`)
	p := d.pod("duo")
	if p.Status.Phase != api.PodRunning {
		t.Fatalf("phase %s: %s", p.Status.Phase, toJSON(p.Status))
	}
	infraPID := p.InfraPID()
	w, r := containerPID(t, p, "writer"), containerPID(t, p, "reader")
	for _, ns := range []string{"net", "ipc", "uts"} {
		inf := nsLink(t, infraPID, ns)
		if nsLink(t, w, ns) != inf || nsLink(t, r, ns) != inf {
			t.Errorf("%s namespace: infra %s, writer %s, reader %s", ns, inf, nsLink(t, w, ns), nsLink(t, r, ns))
		}
		if inf == nsLink(t, os.Getpid(), ns) {
			t.Errorf("%s namespace of the pod is the host's", ns)
		}
	}
	host := nsLink(t, os.Getpid(), "mnt")
	if wm, rm := nsLink(t, w, "mnt"), nsLink(t, r, "mnt"); wm == rm || wm == host || rm == host {
		t.Errorf("mnt namespaces: writer %s reader %s host %s: want all different", wm, rm, host)
	}
	if h := utsHostname(t, r); h != "duo-host" {
		t.Errorf("hostname inside = %q, want duo-host", h)
	}
	testutil.WaitFor(t, 10*time.Second, "reader to print the writer's message", func() bool {
		return strings.Contains(d.logOf(p, "reader", 0), "hello from writer")
	})
	out := d.mustBerth("get", "pods")
	if !strings.Contains(out, "duo") || !strings.Contains(out, "2/2") || !strings.Contains(out, "Running") {
		t.Errorf("get pods:\n%s", out)
	}
}

func TestHostNamespacesWhenAsked(t *testing.T) {
	d := startDaemon(t)
	d.apply("hostns.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: hostns
spec:
  hostPID: true
  hostIPC: true
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	p := d.pod("hostns")
	pid := containerPID(t, p, "main")
	for _, ns := range []string{"pid", "ipc"} {
		if got, host := nsLink(t, pid, ns), nsLink(t, os.Getpid(), ns); got != host {
			t.Errorf("host%s: the container's %s namespace %s is not the host's %s", strings.ToUpper(ns[:1])+ns[1:], ns, got, host)
		}
	}
	if nsLink(t, pid, "net") == nsLink(t, os.Getpid(), "net") {
		t.Errorf("hostPID/hostIPC must not put the pod in the host's network namespace")
	}
}

func TestRunAsNonRootUser(t *testing.T) {
	d := startDaemon(t)
	d.apply("user.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: user
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
    runAsNonRoot: true
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "--then-sleep", "id"]
`)
	p := d.pod("user")
	var out string
	testutil.WaitFor(t, 10*time.Second, "the container to print its credentials", func() bool {
		out = d.logOf(p, "main", 0)
		return strings.Contains(out, "CapEff")
	})
	for _, want := range []string{"Uid: 1000 1000 1000 1000", "Gid: 1000 1000 1000 1000", "CapEff: 0000000000000000"} {
		if !strings.Contains(out, want) {
			t.Errorf("credentials lack %q:\n%s", want, out)
		}
	}
}
