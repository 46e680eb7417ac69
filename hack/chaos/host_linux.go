package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/hostclean"
	"github.com/berth-project/berth/internal/mountinfo"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/internal/procstat"
	"github.com/berth-project/berth/netsetup"
)

// proc is a process of the run, named for good by PID and start time.
type proc struct {
	pid   int
	start uint64
	pod   string // the pod cgroup's name (podid.KernelID)
	leaf  string // cgroups.InfraName or the container's name
}

// isInfra says whether p is its pod's infra: in the infra's cgroup and
// named as the infra names itself. A container's init stage starts in the
// infra's cgroup and moves to its own a moment later; it is no infra.
func (p proc) isInfra() bool {
	if p.leaf != cgroups.InfraName {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.pid))
	return err == nil && strings.TrimSpace(string(comm)) == infra.ProcessName
}

// procsRoot is the run's cgroup parent in the hierarchy that lists its
// processes: the unified one on v2, pids (which berth requires) on v1.
func (r *run) procsRoot() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return filepath.Join("/sys/fs/cgroup", r.cgroupParent)
	}
	return filepath.Join("/sys/fs/cgroup", cgroups.Pids, r.cgroupParent)
}

// procs lists the processes in the run's pod cgroups, by pod and leaf.
func (r *run) procs() []proc {
	var out []proc
	root := r.procsRoot()
	pods, _ := os.ReadDir(root)
	for _, p := range pods {
		if !p.IsDir() {
			continue
		}
		leaves, _ := os.ReadDir(filepath.Join(root, p.Name()))
		for _, l := range leaves {
			if !l.IsDir() {
				continue
			}
			b, _ := os.ReadFile(filepath.Join(root, p.Name(), l.Name(), "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					continue
				}
				if st, err := procstat.StartTime(pid); err == nil {
					out = append(out, proc{pid: pid, start: st, pod: p.Name(), leaf: l.Name()})
				}
			}
		}
	}
	return out
}

// kill sends SIGKILL to p through a pidfd, after checking that the PID
// still names the process listed (same start time, still in the run's
// cgroups): never a process this run did not start.
func (r *run) kill(p proc) error {
	fd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", p.pid, err)
	}
	defer unix.Close(fd)
	st, err := procstat.StartTime(p.pid)
	if err != nil || st != p.start {
		return fmt.Errorf("process %d is gone", p.pid)
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.pid))
	if err != nil || !inCgroup(string(cg), r.cgroupParent) {
		return fmt.Errorf("process %d left the run's cgroups", p.pid)
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		return fmt.Errorf("kill %d: %w", p.pid, err)
	}
	return nil
}

// witness remembers what the run's pods are made of while they live (their
// processes and network namespaces), so that the leak check can ask for
// each of them afterwards, even if it left the run's cgroups.
//
// A namespace's inode number is reused once the namespace is gone, so a
// namespace is named by its cookie (SO_NETNS_COOKIE, never reused while
// the system runs); the inode only picks the processes worth asking.
type witness struct {
	procs  map[proc]bool
	netns  map[uint64]string // cookie -> pod
	inodes map[uint64]bool
}

func newWitness() *witness {
	return &witness{procs: map[proc]bool{}, netns: map[uint64]string{}, inodes: map[uint64]bool{}}
}

func (w *witness) look(r *run) {
	for _, p := range r.procs() {
		k := proc{pid: p.pid, start: p.start}
		if w.procs[k] {
			continue
		}
		w.procs[k] = true
		if p.leaf == cgroups.InfraName {
			path := fmt.Sprintf("/proc/%d/ns/net", p.pid)
			var st syscall.Stat_t
			if syscall.Stat(path, &st) != nil {
				continue
			}
			if cookie, err := netnsCookie(path); err == nil {
				w.netns[cookie] = p.pod
				w.inodes[st.Ino] = true
			}
		}
	}
}

// podLeaks lists what the run's pods left once every pod was deleted and
// the daemon stopped: what berth itself must have removed. The bridge,
// the nftables table (with no hostPort rule left), the cgroup parent (with
// no pod cgroup left) and the state, run and log dirs (with nothing of a
// pod left) are the daemon's and stay.
func (r *run) podLeaks(w *witness, names []string) []string {
	var out []string
	out = append(out, r.strayProcs(w)...)
	out = append(out, r.strayNetns(w)...)
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, m := range mountsUnder(string(mi), r.dir) {
		out = append(out, "mount "+m)
	}
	if br, err := netlink.LinkByName(r.bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				out = append(out, "veth on the bridge "+l.Attrs().Name)
			}
		}
	}
	for _, n := range names {
		if l, err := netlink.LinkByName(netsetup.VethName(podid.ID("default", n))); err == nil {
			out = append(out, fmt.Sprintf("veth %s of pod %s", l.Attrs().Name, n))
		}
	}
	out = append(out, r.hostportRules()...)
	for _, dir := range hostclean.CgroupDirs(r.cgroupParent) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.IsDir() {
				out = append(out, "cgroup "+filepath.Join(dir, e.Name()))
			}
		}
	}
	out = append(out, r.strayFiles()...)
	return out
}

// extraPodObjects names the pod cgroups, pod state dirs, veths on the
// bridge and IP leases of pods not in want (pod identities, as
// podid.KernelID gives them): what a running daemon holds for pods it no
// longer runs.
func (r *run) extraPodObjects(want map[string]bool) []string {
	var out []string
	ents, _ := os.ReadDir(r.procsRoot())
	for _, e := range ents {
		if e.IsDir() && !want[e.Name()] {
			out = append(out, "pod cgroup "+e.Name()+": no such pod")
		}
	}
	ents, _ = os.ReadDir(filepath.Join(r.state, "pods"))
	for _, e := range ents {
		if !want[e.Name()] {
			out = append(out, "pod state dir "+e.Name()+": no such pod")
		}
	}
	veths := map[string]bool{}
	for id := range want {
		veths[netsetup.VethName(id)] = true
	}
	if br, err := netlink.LinkByName(r.bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index && !veths[l.Attrs().Name] {
				out = append(out, "veth "+l.Attrs().Name+" on the bridge: no such pod")
			}
		}
	}
	leases := 0
	ents, _ = os.ReadDir(filepath.Join(r.state, "net"))
	for _, e := range ents {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			leases++
		}
	}
	if leases != len(want) {
		out = append(out, fmt.Sprintf("%d IP leases for %d pods", leases, len(want)))
	}
	return out
}

// daemonFiles are the entries a stopped daemon keeps in the run's dir
// (besides its image store): its lock, the IPAM's lock and cursor, the
// empty dirs; and the harness's own binary and log.
var daemonFiles = map[string]bool{
	"berth": true, "daemon.log": true,
	"m": true, "l": true, "r": true, "r/pods": true,
	"s": true, "s/daemon.lock": true, "s/pods": true, "s/seccomp": true,
	"s/net": true, "s/net/lock": true, "s/net/last_reserved_ip": true,
}

// strayFiles names every file, socket or directory in the run's dir that
// a stopped daemon without pods does not keep: a pod's state, overlay,
// volumes, socket, logs, IP lease.
func (r *run) strayFiles() []string {
	var out []string
	filepath.WalkDir(r.dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(r.dir, p)
		switch {
		case err != nil || rel == ".":
		case rel == "s/images":
			return filepath.SkipDir
		case !daemonFiles[rel]:
			what := "left in the run's dirs"
			if _, err := netip.ParseAddr(d.Name()); err == nil && strings.HasPrefix(rel, "s/net/") {
				what = "IP lease"
			} else if d.Type()&os.ModeSocket != 0 {
				what = "socket"
			}
			out = append(out, what+" "+p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	return out
}

// hostLeaks lists what is left of the run after hostclean removed the
// daemon's own objects: nothing at all may be.
func (r *run) hostLeaks(w *witness) []string {
	var out []string
	out = append(out, r.strayProcs(w)...)
	out = append(out, r.strayNetns(w)...)
	if _, err := netlink.LinkByName(r.bridge); err == nil {
		out = append(out, "bridge "+r.bridge)
	}
	if c, err := nftables.New(); err == nil {
		if t, _ := c.ListTableOfFamily(r.table, nftables.TableFamilyIPv4); t != nil {
			out = append(out, "nftables table "+r.table)
		}
	}
	for _, d := range hostclean.CgroupDirs(r.cgroupParent) {
		out = append(out, "cgroup "+d)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, m := range mountsUnder(string(mi), r.dir) {
		out = append(out, "mount "+m)
	}
	if _, err := os.Lstat(r.dir); err == nil {
		out = append(out, "directory "+r.dir)
	}
	return out
}

// hostportRules names the rules left in the run's hostports chain.
func (r *run) hostportRules() []string {
	c, err := nftables.New()
	if err != nil {
		return []string{"nftables: " + err.Error()}
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: r.table}
	rules, err := c.GetRules(t, &nftables.Chain{Name: "hostports", Table: t})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return []string{"nftables hostports chain: " + err.Error()}
	}
	var out []string
	for _, rule := range rules {
		out = append(out, fmt.Sprintf("nftables rule %s/hostports handle %d (%s)", r.table, rule.Handle, rule.UserData))
	}
	return out
}

// strayProcs names every live process of the run: in its cgroups, below
// this process (orphans are re-parented here), naming its dirs in argv,
// cwd or root, or one the witness saw in a pod.
func (r *run) strayProcs(w *witness) []string {
	var out []string
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		base := "/proc/" + e.Name()
		st, err := procstat.StartTime(pid)
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(base + "/cmdline")
		argv := strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " ")
		var why []string
		if cg, _ := os.ReadFile(base + "/cgroup"); inCgroup(string(cg), r.cgroupParent) {
			why = append(why, "in the run's cgroups")
		}
		if ppid(base) == self {
			why = append(why, "child of the chaos run")
		}
		if strings.Contains(argv, r.dir) {
			why = append(why, "argv names the run's dir")
		}
		for _, l := range []string{"cwd", "root"} {
			if t, err := os.Readlink(base + "/" + l); err == nil && mountinfo.Under(t, r.dir) {
				why = append(why, l+" under the run's dir")
			}
		}
		if w.procs[proc{pid: pid, start: st}] {
			why = append(why, "seen in a pod")
		}
		if len(why) > 0 {
			out = append(out, fmt.Sprintf("process %d (%s): %s", pid, argv, strings.Join(why, ", ")))
		}
	}
	return out
}

func ppid(base string) int {
	b, err := os.ReadFile(base + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// strayNetns names the pods' network namespaces still held by a process
// or a mount.
func (r *run) strayNetns(w *witness) []string {
	var holders []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			holders = append(holders, "/proc/"+e.Name()+"/ns/net")
		}
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		entries, _ := mountinfo.Parse(f)
		f.Close()
		for _, e := range entries {
			if strings.HasPrefix(e.Root, "net:[") {
				holders = append(holders, e.MountPoint)
			}
		}
	}
	var out []string
	for _, h := range holders {
		var st syscall.Stat_t
		if syscall.Stat(h, &st) != nil || !w.inodes[st.Ino] {
			continue
		}
		cookie, err := netnsCookie(h)
		if err != nil {
			continue
		}
		if p, ok := w.netns[cookie]; ok {
			out = append(out, fmt.Sprintf("network namespace of pod %s held by %s", p, h))
		}
	}
	slices.Sort(out)
	return out
}

// netnsCookie is the cookie of the network namespace at path (a
// /proc/PID/ns/net link or a bind mount of one): a socket made inside it
// tells. The thread enters the namespace and comes back; a thread that
// cannot come back stays locked, so the runtime ends it.
func netnsCookie(path string) (uint64, error) {
	ns, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(ns)
	runtime.LockOSThread()
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return 0, err
	}
	defer unix.Close(self)
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return 0, fmt.Errorf("enter network namespace %s: %w", path, err)
	}
	cookie, err := func() (uint64, error) {
		sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0, err
		}
		defer unix.Close(sock)
		return unix.GetsockoptUint64(sock, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	}()
	if unix.Setns(self, unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	if err != nil {
		return 0, fmt.Errorf("cookie of network namespace %s: %w", path, err)
	}
	return cookie, nil
}

// httpEnv fetches the environment a hostPort pod's server reports through
// 127.0.0.1:port, i.e. through berth's DNAT rule.
func httpEnv(ctx context.Context, port int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/env", port), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return string(b), err
}

// freePort picks a port on 127.0.0.1 that is free now and that the run
// has not given out, below the kernel's usual ephemeral range (32768 and
// up), where other programs' servers on port 0 do not land.
func freePort(r *rand.Rand, used map[int]bool) (int, error) {
	for range 100 {
		p := 20000 + r.IntN(12000)
		if used[p] {
			continue
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		err = unix.Bind(fd, &unix.SockaddrInet4{Port: p, Addr: [4]byte{127, 0, 0, 1}})
		unix.Close(fd)
		if err == nil {
			used[p] = true
			return p, nil
		}
	}
	return 0, errors.New("find a free port: 100 tries found none")
}
