package container

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// LookupUser resolves the Docker-style "user[:group]" spec against the
// calling thread's /etc/passwd and /etc/group (the container's, read
// in-root after pivot_root or setns; see ReadUserFile) and adds
// additionalGIDs (the pod's supplementalGroups and fsGroup). It serves
// both the container's init and `berth exec`, so the two agree.
func LookupUser(spec string, additionalGIDs []uint32) (ExecUser, error) {
	passwd, err := ReadUserFile("/etc/passwd")
	if err != nil {
		return execUser{}, err
	}
	group, err := ReadUserFile("/etc/group")
	if err != nil {
		return execUser{}, err
	}
	u, err := resolveUser(spec, passwd, group)
	if err != nil {
		return execUser{}, err
	}
	u.AddGroups(additionalGIDs...)
	return u, nil
}

// setCredentials drops to u with Docker's capability semantics: the
// bounding set is limited to caps for everyone; uid 0 keeps caps as
// permitted and effective, any other uid has none (setuid clears them and
// no ambient set is given). The inheritable set stays empty
// (CVE-2022-24769).
//
// A privileged container gets every capability this process holds
// (allHeld); asking for one it does not hold is an error otherwise.
//
// Preconditions: the calling thread is locked and is the one that execs;
// the bounding set and capset are per thread.
func setCredentials(u execUser, caps []string, lastCap int, allHeld bool) error {
	mask, err := capMask(caps, lastCap)
	if err != nil {
		return err
	}
	held, err := permittedCaps()
	if err != nil {
		return err
	}
	if allHeld {
		mask &= held
	} else if missing := mask &^ held; missing != 0 {
		return fmt.Errorf("capabilities %#x requested but not held by berth", missing)
	}
	if err := dropBounding(mask, lastCap); err != nil {
		return err
	}
	if err := setThreadIDs(u); err != nil {
		return err
	}
	if u.UID != 0 {
		mask = 0
	}
	if err := capset(mask); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	return nil
}

// setThreadIDs sets the calling thread's supplementary groups, gid and
// uid (real, effective and saved) to u's, as the raw system calls do.
// The syscall package's Setuid and friends would stop every thread of
// the process to change each one's credentials, for nothing: the thread
// that execs is the only one that outlives execve, and the program it
// runs starts with that thread's credentials (runc sets them per thread
// too). Nothing else runs in the process after it: the Go runtime's
// threads keep root's credentials until execve ends them.
func setThreadIDs(u execUser) error {
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	// x/sys's Setgroups is the raw system call.
	if err := unix.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups %v: %w", u.Groups, err)
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); errno != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, errno)
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); errno != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, errno)
	}
	return nil
}

// dropBounding removes every capability not in mask from this thread's
// bounding set.
func dropBounding(mask uint64, lastCap int) error {
	for c := 0; c <= lastCap; c++ {
		if mask&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d from bounding set: %w", c, err)
		}
	}
	return nil
}

// permittedCaps returns this thread's permitted set.
func permittedCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32, nil
}

// capset sets the permitted and effective sets of this thread to mask and
// empties the inheritable set.
func capset(mask uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		word := uint32(mask >> (32 * i))
		data[i].Effective, data[i].Permitted = word, word
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset %#x: %w", mask, err)
	}
	return nil
}
