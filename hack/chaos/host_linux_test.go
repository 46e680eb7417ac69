package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/hostclean"
	"github.com/berth-project/berth/internal/testutil"
)

// TestLeakCheckFindsLeftovers leaves what a broken teardown would (a
// process in a pod cgroup, a mount, an IP lease, a pod's state dir) and
// checks that the leak check names each (the process's network namespace
// too, by its cookie), that procs lists the process and that kill ends it.
func TestLeakCheckFindsLeftovers(t *testing.T) {
	testutil.RequireRoot(t)
	r, err := newRun()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hostclean.Remove(r.hostclean()) })

	leaf := filepath.Join(r.procsRoot(), "default_p", cgroups.InfraName)
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	sleep.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(sleep.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(r.state, "pods", "default_p", "volumes", "v")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", vol, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(vol, syscall.MNT_DETACH) })
	if err := os.MkdirAll(filepath.Join(r.state, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.state, "net", "10.1.2.3"), []byte("default_p"), 0o644); err != nil {
		t.Fatal(err)
	}

	w := newWitness()
	w.look(r)
	leaks := strings.Join(r.podLeaks(w, []string{"p"}), "\n")
	for _, want := range []string{
		"process " + strconv.Itoa(sleep.Process.Pid) + " (sleep 60): in the run's cgroups",
		"mount " + vol,
		"cgroup " + filepath.Dir(leaf),
		"IP lease " + filepath.Join(r.state, "net", "10.1.2.3"),
		"left in the run's dirs " + filepath.Join(r.state, "pods", "default_p"),
		"network namespace of pod default_p held by /proc/" + strconv.Itoa(sleep.Process.Pid) + "/ns/net",
	} {
		if !strings.Contains(leaks, want) {
			t.Errorf("leaks do not name %q:\n%s", want, leaks)
		}
	}

	if n := strings.Count(leaks, "network namespace"); n != 1 {
		t.Errorf("%d network namespaces named, want the sleep's only:\n%s", n, leaks)
	}
	host, err := netnsCookie("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.netns[host]; ok || len(w.netns) != 1 {
		t.Errorf("witnessed namespaces %v (host %d), want the sleep's only", w.netns, host)
	}

	ps := r.procs()
	if len(ps) != 1 || ps[0].pid != sleep.Process.Pid || ps[0].pod != "default_p" || ps[0].leaf != cgroups.InfraName {
		t.Fatalf("procs = %+v, want the sleep in default_p/%s", ps, cgroups.InfraName)
	}
	if err := r.kill(ps[0]); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleep.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the killed process still runs")
	}
	if err := r.kill(ps[0]); err == nil {
		t.Error("a second kill of the same process succeeded")
	}
}

// TestIsInfraByName checks that an infra victim is a process in the
// infra's cgroup that names itself as the infra does, not a container's
// init stage still in that cgroup.
func TestIsInfraByName(t *testing.T) {
	bin := filepath.Join(t.TempDir(), infra.ProcessName)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	start := func(path string) int {
		cmd := exec.Command(path, "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd.Process.Pid
	}
	named, other := start(bin), start(sleep)
	for _, tc := range []struct {
		p    proc
		want bool
	}{
		{proc{pid: named, leaf: cgroups.InfraName}, true},
		{proc{pid: other, leaf: cgroups.InfraName}, false},
		{proc{pid: named, leaf: "main"}, false},
	} {
		if got := tc.p.isInfra(); got != tc.want {
			t.Errorf("isInfra(pid %d in %s) = %v, want %v", tc.p.pid, tc.p.leaf, got, tc.want)
		}
	}
}
