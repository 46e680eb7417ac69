package manifests

import (
	"slices"
	"strconv"
)

// lifecycle checks the postStart and preStop hooks and the stop signal of
// a regular container or a sidecar as Kubernetes' validation does.
func (v *validator) lifecycle(s *PodSpec, c *Container, path string) {
	l := c.Lifecycle
	if l == nil {
		return
	}
	path = joinField(path, "lifecycle")
	grace := int64(DefaultTerminationGracePeriod)
	if g := s.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if l.PostStart != nil {
		v.hook(l.PostStart, joinField(path, "postStart"), grace)
	}
	if l.PreStop != nil {
		v.hook(l.PreStop, joinField(path, "preStop"), grace)
	}
	if sig := l.StopSignal; sig != nil {
		spath := joinField(path, "stopSignal")
		switch {
		case s.OS == nil || s.OS.Name == "":
			v.errf(spath, "may not be set while spec.os.name is empty: set spec.os.name to linux")
		case !slices.Contains(StopSignals(), *sig):
			v.errf(spath, "%q is not a Linux signal Kubernetes accepts: use a name such as SIGTERM, SIGINT, SIGQUIT, SIGUSR1 or SIGRTMIN+1", clip(*sig))
		}
	}
}

// noLifecycle refuses hooks on an init container that is not a sidecar,
// which must run to completion, as Kubernetes does.
func (v *validator) noLifecycle(c *Container, path string) {
	if c.Lifecycle != nil {
		v.errf(joinField(path, "lifecycle"), "must not be set for an init container unless it is a sidecar (restartPolicy: Always)")
	}
}

// hook checks one lifecycle handler: exactly one action (tcpSocket is
// refused by the support table), a command for exec, a port and scheme
// for httpGet, and a sleep from 0 to the pod's grace period.
func (v *validator) hook(h *LifecycleHandler, path string, grace int64) {
	n := 0
	if a := h.Exec; a != nil {
		n++
		if len(a.Command) == 0 {
			v.errf(joinField(joinField(path, "exec"), "command"), "command is required")
		}
	}
	if a := h.HTTPGet; a != nil {
		n++
		v.httpGet(a, joinField(path, "httpGet"))
	}
	if h.TCPSocket != nil {
		n++
	}
	if a := h.Sleep; a != nil {
		n++
		if a.Seconds < 0 || a.Seconds > grace {
			v.errf(joinField(joinField(path, "sleep"), "seconds"), "must be from 0 to the pod's terminationGracePeriodSeconds (%d), got %d", grace, a.Seconds)
		}
	}
	switch {
	case n == 0:
		v.errf(path, "a lifecycle hook needs one of exec, httpGet or sleep")
	case n > 1:
		v.errf(path, "a lifecycle hook takes only one of exec, httpGet or sleep")
	}
}

// StopSignals are the names lifecycle.stopSignal accepts for a Linux pod,
// as Kubernetes 1.33 lists them.
func StopSignals() []string {
	out := []string{
		"SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCLD", "SIGCONT", "SIGFPE", "SIGHUP",
		"SIGILL", "SIGINT", "SIGIO", "SIGIOT", "SIGKILL", "SIGPIPE", "SIGPOLL", "SIGPROF",
		"SIGPWR", "SIGQUIT", "SIGSEGV", "SIGSTKFLT", "SIGSTOP", "SIGSYS", "SIGTERM", "SIGTRAP",
		"SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGWINCH",
		"SIGXCPU", "SIGXFSZ", "SIGRTMIN", "SIGRTMAX",
	}
	// SIGRTMIN is 34 and SIGRTMAX 64: SIGRTMIN+15 is SIGRTMAX-15.
	for i := 1; i <= 15; i++ {
		out = append(out, "SIGRTMIN+"+strconv.Itoa(i))
	}
	for i := 1; i <= 14; i++ {
		out = append(out, "SIGRTMAX-"+strconv.Itoa(i))
	}
	return out
}
