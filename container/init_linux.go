package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/earlyjoin"
	"github.com/berth-project/berth/internal/ptyio"
	"github.com/berth-project/berth/internal/reexec"
	"github.com/berth-project/berth/internal/seccompload"
)

// step runs fn and names its failure, which travels to Start.
var step = reexec.Step

// The init stage's main goroutine runs on the process's main thread from
// the start: an init function's LockOSThread keeps it there through main
// (the runtime runs package init on the main thread, locked). The v1
// cgroup join moves that thread alone (reexec.JoinThread), and only the
// thread group leader may, so it must be the leader: it is also the
// thread that execs.
func init() {
	if len(os.Args) > 1 && os.Args[1] == InitSubcommand {
		runtime.LockOSThread()
	}
}

// Main is the container init stage, `berth container-init --config-fd=N
// --sync-fd=M`; args are the arguments after the subcommand name. It never
// returns: on success it has become the user's program, on failure it
// reports on the sync fd (see Start) and exits 1.
//
// Preconditions: called first thing in a process Start cloned (fresh mount
// namespace, no other goroutine doing work), before any flag parsing.
func Main(args []string) {
	started := monotonic()
	// Mounts, pivot_root, the bounding set and capset act on this thread;
	// it is never unlocked, and execve replaces the whole process. Locked
	// by init already when Main runs as the entry point; this lock is for
	// a caller that did not dispatch on os.Args (JoinThread then refuses a
	// thread that is not the main one).
	runtime.LockOSThread()
	// Non-dumpable before anything else, so the container cannot reach
	// this binary through /proc/PID/exe (CVE-2019-5736).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "berth container-init: set non-dumpable: %v\n", err)
		os.Exit(1)
	}
	configFd, syncFd, err := reexec.ParseFds(InitSubcommand, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth container-init: %v\n", err)
		os.Exit(2)
	}
	// The sync fd must close on execve: that EOF is the success signal.
	unix.CloseOnExec(syncFd)
	unix.CloseOnExec(configFd)
	sync := os.NewFile(uintptr(syncFd), "sync")

	err = run(os.NewFile(uintptr(configFd), "config"), sync, progress{Main: started})
	report(sync, err)
	os.Exit(1)
}

// report sends err to Start as an InitError record.
func report(sync *os.File, err error) {
	var ie InitError
	ie.Step, ie.Message = reexec.Describe(err, "init")
	b, mErr := json.Marshal(ie)
	if mErr != nil {
		b = []byte(`{"step":"report","message":"cannot encode error"}`)
	}
	if _, wErr := sync.Write(b); wErr != nil {
		fmt.Fprintf(os.Stderr, "berth container-init: %v (and report it: %v)\n", err, wErr)
	}
}

// run performs the init steps in order, noting in p when each began, and
// execs the user's program; it only returns on failure.
func run(configFile, sync *os.File, p progress) error {
	var cfg Config
	if err := step("read config", func() error { return reexec.DecodeConfig(configFile, &cfg) }); err != nil {
		return err
	}
	if err := step("validate config", func() error { return validate(cfg) }); err != nil {
		return err
	}
	// The filter's file is a host path: read before the rootfs is entered.
	if cfg.Seccomp != nil {
		if err := step("read seccomp filter", cfg.Seccomp.ReadProgram); err != nil {
			return err
		}
	}
	// Into the container's cgroups first: everything the init stage makes
	// from here on (the rootfs mounts' kernel memory above all, which
	// lives as long as the container) is charged to the container, not to
	// the pod's infra. On v1 the binary's entry point has usually done it,
	// for the whole process, before the runtime started
	// (internal/earlyjoin). Otherwise this thread moves alone, without the
	// kernel's global lock and its RCU grace period: it is the main
	// thread, which execs, and execve ends every other thread, so the
	// workload runs wholly in the container's cgroups; memory is charged
	// to the main thread's. Until execve the Go runtime's other threads
	// stay in the infra's cgroups, where this process was cloned. That is
	// harmless: they are the same pod's, the infra's cgroup already held
	// the whole init stage until this join, and the workload exists only
	// after execve. Meanwhile the process is listed in both cgroups'
	// cgroup.procs: the pod's kill (its teardown) lists every cgroup of
	// the pod and reaches the process whole, the metrics count it in the
	// container's cgroup from this join on as before, and nothing else
	// reads the infra's cgroup.procs.
	if earlyjoin.Joined(len(cfg.CgroupProcs)) {
		earlyjoin.Close()
	} else if err := step("join cgroups", func() error { return reexec.JoinThread(cfg.CgroupProcs) }); err != nil {
		return err
	}
	if err := step("set oom_score_adj", func() error { return setOOMScoreAdj(cfg.OOMScoreAdj) }); err != nil {
		return err
	}
	p.Cgroups = monotonic()
	lastCap, err := LastCap()
	if err != nil {
		return &reexec.StepError{Step: "learn the last capability", Err: err}
	}
	if err := setupRootfs(cfg); err != nil {
		return err
	}
	if cfg.Terminal {
		if err := step("open terminal", func() error { return openTerminal(sync) }); err != nil {
			return err
		}
	}
	p.Rootfs = monotonic()
	u, err := setupProcess(cfg, lastCap)
	if err != nil {
		return err
	}
	return execProcess(cfg, u, sync, p)
}

// ErrOOMScoreAdjDenied is returned when the process may not lower its
// oom_score_adj (it lacks CAP_SYS_RESOURCE, which the daemon's start-up
// checks warn about); the value stays what it was.
var ErrOOMScoreAdjDenied = errors.New("lowering oom_score_adj needs CAP_SYS_RESOURCE")

// SetOOMScoreAdj sets the calling process's oom_score_adj, which its
// children inherit.
func SetOOMScoreAdj(adj int) error {
	err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(adj)), 0)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("set oom_score_adj %d: %w", adj, ErrOOMScoreAdjDenied)
	}
	return fmt.Errorf("set oom_score_adj %d: %w", adj, err)
}

// setOOMScoreAdj is SetOOMScoreAdj for the process stages, which go on
// when only the privilege to lower it is missing.
func setOOMScoreAdj(adj int) error {
	if err := SetOOMScoreAdj(adj); !errors.Is(err, ErrOOMScoreAdjDenied) {
		return err
	}
	return nil
}

// setupRootfs builds the container's filesystem view and pivots into it.
func setupRootfs(cfg Config) error {
	var trees map[int]*os.File
	if err := step("clone shared volumes", func() (err error) { trees, err = sharedTrees(cfg.Mounts); return err }); err != nil {
		return err
	}
	defer closeTrees(trees)
	if err := step("make / rslave", makeRootSlave); err != nil {
		return err
	}
	if err := step("mount rootfs "+cfg.RootfsDir, func() error { return mountRootfs(cfg) }); err != nil {
		return err
	}
	root, err := openRoot(cfg.RootfsDir)
	if err != nil {
		return &reexec.StepError{Step: "open rootfs", Err: err}
	}
	defer root.Close()
	for _, m := range systemMounts(cfg.Privileged) {
		if err := step("mount "+m.Target, func() error { return mountInRoot(root, m, !cfg.Privileged) }); err != nil {
			return err
		}
	}
	for i, m := range cfg.Mounts {
		mount := func() error { return mountInRoot(root, m, false) }
		if tree := trees[i]; tree != nil {
			mount = func() error { return bindInRoot(root, m, parseMountOptions(m.Options), tree) }
		}
		if err := step("mount "+m.Target, mount); err != nil {
			return err
		}
	}
	if cfg.NoPivot {
		return step("move root to "+cfg.RootfsDir, func() error { return moveRoot(cfg.RootfsDir) })
	}
	return step("pivot_root to "+cfg.RootfsDir, func() error { return pivotRoot(cfg.RootfsDir) })
}

// setupProcess does what follows pivot_root: masking, the read-only
// rootfs, hostname and credentials. It returns the user it switched to.
func setupProcess(cfg Config, lastCap int) (execUser, error) {
	if !cfg.Privileged {
		if err := step("mask paths", func() error { return maskPaths(cfg.MaskedPaths) }); err != nil {
			return execUser{}, err
		}
		if err := step("read-only paths", func() error { return readonlyPaths(cfg.ReadonlyPaths) }); err != nil {
			return execUser{}, err
		}
	}
	if err := step("create cwd "+cfg.Cwd, func() error { return ensureCwd(cfg.Cwd) }); err != nil {
		return execUser{}, err
	}
	if cfg.ReadOnlyRootfs {
		if err := step("read-only rootfs", func() error { return remountReadonly("/", 0) }); err != nil {
			return execUser{}, err
		}
	}
	if cfg.Hostname != "" {
		if err := step("set hostname", func() error { return unix.Sethostname([]byte(cfg.Hostname)) }); err != nil {
			return execUser{}, err
		}
	}
	var u execUser
	if err := step(stepResolveUser+" "+cfg.User, func() (err error) { u, err = LookupUser(cfg.User, cfg.AdditionalGIDs); return err }); err != nil {
		return execUser{}, err
	}
	if cfg.RunAsNonRoot && u.UID == 0 {
		return execUser{}, &reexec.StepError{Step: "check user", Err: errors.New("container has runAsNonRoot and image will run as root")}
	}
	caps := cfg.Capabilities
	if cfg.Privileged {
		caps = AllCapabilities()
	}
	if cfg.Seccomp != nil && !cfg.NoNewPrivileges {
		if err := step("load seccomp filter", func() error { return seccompload.Load(cfg.Seccomp, true) }); err != nil {
			return execUser{}, err
		}
	}
	if err := step("set credentials", func() error { return setCredentials(u, caps, lastCap, cfg.Privileged) }); err != nil {
		return execUser{}, err
	}
	if cfg.NoNewPrivileges {
		if err := step("set no_new_privs", func() error { return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }); err != nil {
			return execUser{}, err
		}
	}
	return u, nil
}

// execProcess enters the working directory as the user, finds the program
// and execs it, with HOME from passwd unless the config sets it. The
// progress record goes to the parent just before execve.
func execProcess(cfg Config, u execUser, sync *os.File, p progress) error {
	cwd := cfg.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := step("chdir "+cwd, func() error { return chdirChecked(cwd) }); err != nil {
		return err
	}
	var path string
	if err := step("find program", func() (err error) { path, err = lookPath(cfg.Args[0], cfg.Env, isExecutable); return err }); err != nil {
		return err
	}
	if err := step("close fds", closeExtraFds); err != nil {
		return err
	}
	if cfg.Seccomp != nil && cfg.NoNewPrivileges {
		if err := step("load seccomp filter", func() error { return seccompload.Load(cfg.Seccomp, true) }); err != nil {
			return err
		}
	}
	p.Exec = monotonic()
	if err := step("report progress", func() error { return json.NewEncoder(sync).Encode(p) }); err != nil {
		return err
	}
	return step("exec "+path, func() error { return unix.Exec(path, cfg.Args, envWithHome(cfg.Env, u.Home)) })
}

// chdirChecked enters dir and makes sure the result is inside the root:
// a leaked host directory fd reached through /proc/self/fd would show as
// an unreachable path (CVE-2024-21626).
func chdirChecked(dir string) error {
	if err := unix.Chdir(dir); err != nil {
		return err
	}
	wd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("getcwd: %w", err)
	}
	if !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("working directory %q is outside the container", wd)
	}
	return nil
}

// isExecutable reports whether path is a regular file this process may
// execute.
func isExecutable(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s: not a regular file", path)
	}
	return unix.Access(path, unix.X_OK)
}

// closeExtraFds marks every fd above 2 close-on-exec: none of the init's
// fds (the sync pipe, the Go runtime's) may reach the user's program, and
// closing them under the runtime would break it before execve.
func closeExtraFds() error {
	err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close_range: %w", err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		// The fd of the directory listing itself is gone by now: EBADF.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("set close-on-exec on fd %d: %w", fd, err)
		}
	}
	return nil
}

// openTerminal makes a pseudo-terminal in the container's /dev/pts (the
// root is the container's by now), passes its master to Start over the
// sync socket, after a NUL byte, and makes the peer this process's
// stdin, stdout, stderr and controlling terminal (the process leads its
// own session).
func openTerminal(sync *os.File) error {
	master, peer, err := ptyio.Open()
	if err != nil {
		return err
	}
	defer master.Close()
	defer peer.Close()
	mrc, err := master.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := mrc.Control(func(fd uintptr) {
		serr = unix.Sendmsg(int(sync.Fd()), []byte{0}, unix.UnixRights(int(fd)), nil, 0)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("pass the terminal: %w", serr)
	}
	p := int(peer.Fd())
	for fd := range 3 {
		if err := unix.Dup3(p, fd, 0); err != nil {
			return fmt.Errorf("terminal as fd %d: %w", fd, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make the terminal the controlling one: %w", err)
	}
	return nil
}
