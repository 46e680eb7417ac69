package infra

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// readSysctlIn reads /proc/sys/<path> from a thread that joined the ns
// namespace of pid; the thread is never returned to the runtime.
func readSysctlIn(t *testing.T, pid int, ns, path string) string {
	t.Helper()
	type result struct {
		val string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread exits with the goroutine
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, 0); err != nil {
			ch <- result{err: err}
			return
		}
		b, err := os.ReadFile("/proc/sys/" + path)
		ch <- result{strings.TrimSpace(string(b)), err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("read %s in the %s namespace of %d: %v", path, ns, pid, r.err)
	}
	return r.val
}

func TestInfraSetsSysctlsInItsNamespaces(t *testing.T) {
	needRoot(t)
	hostPort := readHostSysctl(t, "net/ipv4/ip_unprivileged_port_start")
	hostRmid := readHostSysctl(t, "kernel/shm_rmid_forced")
	hostDomain := readHostSysctl(t, "kernel/domainname")
	cfg := testPod(t, RestartNever)
	cfg.Sysctls = []Sysctl{
		{Name: "net.ipv4.ip_unprivileged_port_start", Path: "net/ipv4/ip_unprivileged_port_start", Value: "555", Namespace: "net"},
		{Name: "kernel.shm_rmid_forced", Path: "kernel/shm_rmid_forced", Value: flip(hostRmid), Namespace: "ipc"},
		{Name: "kernel.domainname", Path: "kernel/domainname", Value: "pod.test", Namespace: "uts"},
	}
	proc, c := launchPod(t, cfg)
	if got := readSysctlIn(t, proc.Pid, "net", "net/ipv4/ip_unprivileged_port_start"); got != "555" {
		t.Errorf("pod's ip_unprivileged_port_start = %s, want 555", got)
	}
	if got := readSysctlIn(t, proc.Pid, "ipc", "kernel/shm_rmid_forced"); got != flip(hostRmid) {
		t.Errorf("pod's shm_rmid_forced = %s, want %s", got, flip(hostRmid))
	}
	if got := readSysctlIn(t, proc.Pid, "uts", "kernel/domainname"); got != "pod.test" {
		t.Errorf("pod's domainname = %s, want pod.test", got)
	}
	for path, want := range map[string]string{
		"net/ipv4/ip_unprivileged_port_start": hostPort, "kernel/shm_rmid_forced": hostRmid, "kernel/domainname": hostDomain,
	} {
		if got := readHostSysctl(t, path); got != want {
			t.Errorf("host's %s changed to %s (was %s)", path, got, want)
		}
	}
	shutdown(t, c, proc.Pid, cfg.Socket)
}

func TestInfraFailsOnSysctlItCannotSet(t *testing.T) {
	needRoot(t)
	cfg := testPod(t, RestartNever)
	cfg.Sysctls = []Sysctl{{Name: "net.ipv4.no_such_sysctl", Path: "net/ipv4/no_such_sysctl", Value: "1", Namespace: "net"}}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := launchWait(cfg, LaunchOptions{Exe: exe}, execInfra)
	if err == nil {
		proc.Kill()
		proc.Wait()
		t.Fatal("launch succeeded with a sysctl that does not exist")
	}
	if !strings.Contains(err.Error(), "set sysctl net.ipv4.no_such_sysctl") {
		t.Errorf("launch = %v, want it to name the sysctl", err)
	}
}

func readHostSysctl(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func flip(v string) string {
	if v == "1" {
		return "0"
	}
	return "1"
}
