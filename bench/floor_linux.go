package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// floorPod is the kernel's own share of a pod: the workload cloned into new
// namespaces and exec'd, plus (with networking) one veth pair whose peer is
// moved into the workload's netns, addressed and brought up. No runtime
// does less and still runs the pod.
type floorPod struct {
	cmds []*exec.Cmd
	veth string
}

// startFloor clones procs workloads (demo sleep) with the namespaces of a
// berth pod (net, ipc, uts, mount, pid; without net for hostNetwork) and,
// when network is set, wires a veth into the first one's netns.
func startFloor(demo string, procs int, network bool) (*floorPod, error) {
	flags := uintptr(syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS)
	if network {
		flags |= syscall.CLONE_NEWNET
	}
	f := &floorPod{}
	for i := 0; i < procs; i++ {
		cmd := exec.Command(demo, "sleep")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
		// Start returns once execve succeeded (Go waits on a CLOEXEC pipe).
		if err := cmd.Start(); err != nil {
			f.stop()
			return nil, fmt.Errorf("floor: clone+exec %s: %w", demo, err)
		}
		f.cmds = append(f.cmds, cmd)
	}
	if network {
		if err := f.wire(f.cmds[0].Process.Pid); err != nil {
			f.stop()
			return nil, err
		}
	}
	return f, nil
}

// wire creates the veth pair, moves its peer into pid's netns, and there
// brings up lo and the peer with an address (TEST-NET-1: the netns is
// private, so nothing on the host can clash).
func (f *floorPod) wire(pid int) error {
	var b [3]byte
	rand.Read(b[:])
	host, peer := "bfl"+hex.EncodeToString(b[:]), "bfp"+hex.EncodeToString(b[:])
	la := netlink.NewLinkAttrs()
	la.Name = host
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: peer}); err != nil {
		return fmt.Errorf("floor: add veth %s: %w", host, err)
	}
	f.veth = host
	pl, err := netlink.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("floor: find veth peer %s: %w", peer, err)
	}
	if err := netlink.LinkSetNsPid(pl, pid); err != nil {
		return fmt.Errorf("floor: move %s into netns of %d: %w", peer, pid, err)
	}
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("floor: open netns of %d: %w", pid, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("floor: netlink handle in netns of %d: %w", pid, err)
	}
	defer h.Close()
	if err := configurePeer(h, peer); err != nil {
		return err
	}
	hl, err := netlink.LinkByName(host)
	if err != nil {
		return fmt.Errorf("floor: find veth %s: %w", host, err)
	}
	if err := netlink.LinkSetUp(hl); err != nil {
		return fmt.Errorf("floor: set %s up: %w", host, err)
	}
	return nil
}

func configurePeer(h *netlink.Handle, peer string) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("floor: find lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("floor: set lo up: %w", err)
	}
	l, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("floor: find %s in netns: %w", peer, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(192, 0, 2, 2), Mask: net.CIDRMask(24, 32)}}
	if err := h.AddrAdd(l, addr); err != nil {
		return fmt.Errorf("floor: address %s: %w", peer, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("floor: set %s up: %w", peer, err)
	}
	return nil
}

// stop is the floor of a tear-down: delete the veth (synchronously), then
// SIGKILL each workload and reap it; its namespaces go with it. (SIGTERM
// could arrive before the workload, pid 1 of its pid namespace, installed
// its handler, and the kernel drops it then.)
func (f *floorPod) stop() error {
	var errs []error
	if f.veth != "" {
		if l, err := netlink.LinkByName(f.veth); err == nil {
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("floor: delete veth %s: %w", f.veth, err))
			}
		}
	}
	for _, c := range f.cmds {
		c.Process.Kill()
	}
	for _, c := range f.cmds {
		c.Wait()
	}
	return errors.Join(errs...)
}
