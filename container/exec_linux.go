package container

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// This file exports the init stage's rules for `berth exec` (package
// execin), so that a process entering a running container gets the same
// user, groups, HOME, program lookup and capabilities as the container's
// own process.

// ExecUser is a resolved identity: uid, primary gid, supplementary groups
// and the passwd home directory.
type ExecUser = execUser

// LookPath finds file through the PATH in env (Docker's default PATH when
// unset), as execvp would, in the calling thread's root.
func LookPath(file string, env []string) (string, error) {
	return lookPath(file, env, isExecutable)
}

// EnvWithHome adds HOME=home to env unless env sets HOME.
func EnvWithHome(env []string, home string) []string { return envWithHome(env, home) }

// LimitCapabilities bounds what a process forked next from the calling
// thread can hold: the bounding set is cut to caps (names the kernel does
// not know are skipped), the inheritable and ambient sets are emptied, and
// the permitted and effective sets are kept so that the fork can still
// change its credentials. The child's setuid to a non-root uid then clears
// its capabilities, and execve as root gives it exactly the bounding set:
// the semantics of the container's own process (see setCredentials).
//
// lastCap is the kernel's last capability (LastCap), learnt before the
// caller entered the container.
//
// Preconditions: the calling thread is locked to its goroutine; these sets
// are per thread and inherited by a child it forks.
func LimitCapabilities(caps []string, lastCap int) error {
	mask, err := capMask(caps, lastCap)
	if err != nil {
		return err
	}
	if err := dropBounding(mask, lastCap); err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("empty inheritable capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	return nil
}
