package pod

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifests"
)

// Linux's real-time signal range, as the kernel numbers it (glibc keeps
// the first two for itself; containerd and Kubernetes name them from 34).
const (
	sigRTMin = 34
	sigRTMax = 64
)

// stopSignal is the signal that stops container c, as the kubelet picks
// it: lifecycle.stopSignal, else the image's STOPSIGNAL, else SIGTERM (0:
// the infra's default).
func stopSignal(c *manifests.Container, img images.Image) (syscall.Signal, error) {
	if l := c.Lifecycle; l != nil && l.StopSignal != nil {
		sig, err := parseSignal(*l.StopSignal)
		if err != nil {
			return 0, fmt.Errorf("lifecycle.stopSignal: %w", err)
		}
		return sig, nil
	}
	if s := img.Config.StopSignal; s != "" {
		sig, err := parseSignal(s)
		if err != nil {
			return 0, fmt.Errorf("the image's STOPSIGNAL: %w", err)
		}
		return sig, nil
	}
	return 0, nil
}

// parseSignal reads a signal as an image's STOPSIGNAL or a stopSignal
// names it: "SIGUSR1", "USR1", "10", "SIGRTMIN+3", "RTMAX-1".
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > sigRTMax {
			return 0, fmt.Errorf("signal %d is out of range: use 1 to %d", n, sigRTMax)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"SIGRTMIN", sigRTMin, 1}, {"SIGRTMAX", sigRTMax, -1}} {
		rest, ok := strings.CutPrefix(name, rt.prefix)
		if !ok {
			continue
		}
		n := 0
		if rest != "" {
			op := "+"
			if rt.sign < 0 {
				op = "-"
			}
			off, ok := strings.CutPrefix(rest, op)
			v, err := strconv.Atoi(off)
			if !ok || err != nil || v < 0 {
				return 0, fmt.Errorf("unknown signal %q", s)
			}
			n = v
		}
		sig := rt.base + rt.sign*n
		if sig < sigRTMin || sig > sigRTMax {
			return 0, fmt.Errorf("signal %q is outside SIGRTMIN to SIGRTMAX", s)
		}
		return syscall.Signal(sig), nil
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
