package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/hostclean"
	"github.com/berth-project/berth/internal/testutil"
)

// rebootPodYAML is a pod of two containers, one serving TCP echo behind a
// hostPort with an emptyDir mounted, one ticking into its log.
func rebootPodYAML(name string, hostPort int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 2
  volumes:
  - name: scratch
    emptyDir: {}
  containers:
  - name: echo
    image: berth.test/demo:latest
    command: ["/bin/demo", "echo-tcp", "7000"]
    ports:
    - containerPort: 7000
      hostPort: %d
    volumeMounts:
    - name: scratch
      mountPath: /scratch
  - name: ticker
    image: berth.test/demo:latest
    command: ["/bin/demo", "tick", "100ms"]
`, name, hostPort)
}

// simulateReboot does to the daemon's host what a power cut and a boot do,
// scoped to this daemon: its processes and its pods' are gone (SIGKILL:
// the daemon, then every process in its cgroup parent, which the daemon
// started for this test), nothing stays mounted, the run directory is
// empty, and the kernel objects (veths go with the pods' net namespaces;
// the bridge, the nftables table, the cgroups) are gone. The state and log
// directories stay as they were.
func simulateReboot(t *testing.T, d *daemon) {
	t.Helper()
	// The killed daemon's orphans (its infras, then their containers)
	// become this test's children and are reaped here. Left to the host's
	// init they may stay zombies a while (the VM's init is a shell waiting
	// on the test binary), and on cgroup v2 a zombie keeps its cgroup from
	// being removed.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("become a child subreaper: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	d.stop(syscall.SIGKILL)
	killed := map[int]bool{}
	testutil.WaitFor(t, 30*time.Second, "every process of the daemon's pods to die", func() bool {
		pids := cgroupPIDs(d.cgroupParent)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
			killed[pid] = true
		}
		return len(pids) == 0
	})
	for pid := range killed {
		// Only this test's own children: any other PID is ECHILD at once.
		unix.Wait4(pid, nil, 0, nil)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	var under []string
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], d.dir+"/") {
			under = append(under, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(under)))
	for _, m := range under {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			t.Fatalf("unmount %s: %v", m, err)
		}
	}
	ents, _ := os.ReadDir(d.run)
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(d.run, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	// A cgroup whose last process is still exiting cannot be removed yet
	// (EBUSY on cgroup v2): the removal is tried until it holds.
	var dirs []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		hostclean.Remove(hostclean.Daemon{Bridge: d.bridge, Table: d.table, CgroupParent: d.cgroupParent})
		if dirs = hostclean.CgroupDirs(d.cgroupParent); len(dirs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(dirs) > 0 {
		t.Fatalf("cgroups of the daemon remain after the reboot: %v", dirs)
	}
}

// cgroupPIDs lists every process in cgroup parent's tree, in every
// hierarchy.
func cgroupPIDs(parent string) []int {
	seen := map[int]bool{}
	for _, dir := range hostclean.CgroupDirs(parent) {
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || e.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					seen[pid] = true
				}
			}
			return nil
		})
	}
	var out []int
	for pid := range seen {
		out = append(out, pid)
	}
	return out
}

// TestRebootRestartsPods: after a simulated host restart, the daemon's
// first pass starts every pod its manifests declare again, reclaims what
// the dead pods held, and shows the containers restarted as the kubelet
// does after a node reboot: the same pod (UID), each restart count one up
// from where it was, lastState terminated with reason Unknown and exit
// code 255, and the previous run's logs still there.
func TestRebootRestartsPods(t *testing.T) {
	d := startDaemon(t)
	hostPort := freeHostPort(t, "tcp")
	d.apply("web.yaml", rebootPodYAML("web", hostPort))
	d.apply("plain.yaml", podYAML("plain", "Always", `["/bin/demo", "sleep"]`))
	web := d.runningPod("web")
	waitEcho(t, "echo through the hostPort", tcpEcho, fmt.Sprintf("127.0.0.1:%d", hostPort))

	// One restart of the ticker before the reboot.
	syscall.Kill(containerPID(t, web, "ticker"), syscall.SIGKILL)
	testutil.WaitFor(t, 30*time.Second, "the ticker to run again after its kill", func() bool {
		for _, c := range d.pod("web").Status.ContainerStatuses {
			if c.Name == "ticker" {
				return c.RestartCount == 1 && c.State.Running != nil
			}
		}
		return false
	})
	testutil.WaitFor(t, 10*time.Second, "the ticker's second run to log", func() bool {
		out, _ := d.berth("logs", "web", "-c", "ticker")
		return strings.HasPrefix(out, "tick 1\ntick 2\n")
	})
	before := map[string]api.Pod{"web": d.pod("web"), "plain": d.pod("plain")}
	leasesBefore := d.leases()

	simulateReboot(t, d)
	d.start()
	api.NewClient(d.sock).Reconcile(context.Background())
	for name, was := range before {
		p := d.runningPod(name)
		if p.Metadata.UID != was.Metadata.UID {
			t.Errorf("pod %s has uid %s after the reboot, was %s", name, p.Metadata.UID, was.Metadata.UID)
		}
		restarts := map[string]int32{}
		for _, c := range was.Status.ContainerStatuses {
			restarts[c.Name] = c.RestartCount
		}
		testutil.WaitFor(t, 30*time.Second, "every container of "+name+" to run", func() bool {
			p = d.pod(name)
			for _, c := range p.Status.ContainerStatuses {
				if c.State.Running == nil {
					return false
				}
			}
			return len(p.Status.ContainerStatuses) == len(was.Status.ContainerStatuses)
		})
		for _, c := range p.Status.ContainerStatuses {
			last := c.LastState.Terminated
			if c.RestartCount != restarts[c.Name]+1 || last == nil || last.Reason != "Unknown" || last.ExitCode != 255 {
				t.Errorf("pod %s container %s after the reboot: restartCount %d (was %d), lastState %s", name, c.Name, c.RestartCount, restarts[c.Name], toJSON(c.LastState))
			}
		}
	}
	prev := d.mustBerth("logs", "web", "-c", "ticker", "--previous")
	if !strings.HasPrefix(prev, "tick 1\ntick 2\n") {
		t.Errorf("logs --previous of the ticker after the reboot: %q", prev)
	}
	testutil.WaitFor(t, 10*time.Second, "the ticker to log after the reboot", func() bool {
		out, _ := d.berth("logs", "web", "-c", "ticker")
		return strings.HasPrefix(out, "tick 1\n")
	})
	waitEcho(t, "echo through the hostPort after the reboot", tcpEcho, fmt.Sprintf("127.0.0.1:%d", hostPort))
	var ips []string
	for _, p := range d.pods() {
		ips = append(ips, p.Status.PodIP)
	}
	sort.Strings(ips)
	got := d.leases()
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(ips, ",") || len(got) != len(leasesBefore) {
		t.Errorf("leases after the reboot %v, pods' IPs %v (before: %v)", got, ips, leasesBefore)
	}
	// d.cleanup deletes the pods and checks nothing of them is left.
}

// TestRebootForgetsRemovedPods: a pod whose manifest went while the host
// was down is not started again, and nothing of it stays (its logs, which
// a restarted pod would keep, included).
func TestRebootForgetsRemovedPods(t *testing.T) {
	d := startDaemon(t)
	d.apply("gone.yaml", podYAML("gone", "Always", `["/bin/demo", "tick", "100ms"]`))
	gone := d.runningPod("gone")
	simulateReboot(t, d)
	os.Remove(filepath.Join(d.manifests, "gone.yaml"))
	d.start()
	api.NewClient(d.sock).Reconcile(context.Background())
	if ps := d.pods(); len(ps) != 0 {
		t.Errorf("pods after the reboot: %s", toJSON(ps))
	}
	logs := filepath.Join(d.logs, "default_gone_"+gone.Metadata.UID)
	testutil.WaitFor(t, 10*time.Second, "the removed pod's logs to go", func() bool {
		_, err := os.Stat(logs)
		return os.IsNotExist(err)
	})
	if l := d.hostLeftovers(); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}
