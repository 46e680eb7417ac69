package execin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/procstat"
	"github.com/berth-project/berth/internal/reexec"
	"github.com/berth-project/berth/internal/seccompload"
)

// step runs fn and names its failure, which travels to Run.
var step = reexec.Step

// Main is `berth exec-init --config-fd=N --sync-fd=M`; args follow the
// subcommand name. It enters the container, runs the command and exits
// with its status; a setup failure is reported on the sync fd (see the
// package doc) and exits ExitCannotRun.
//
// Preconditions: called first thing in a process Run started, before any
// flag parsing; its main goroutine is this one.
func Main(args []string) {
	// Namespaces, the bounding set and no_new_privs are per thread: this
	// thread does all of it and forks the command, and it is never
	// unlocked (its namespaces cannot be restored), the process exits.
	runtime.LockOSThread()
	// Non-dumpable first: the command's parent runs berth's code and must
	// not be reachable through /proc/PID/exe (CVE-2019-5736).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "berth %s: set non-dumpable: %v\n", InitSubcommand, err)
		os.Exit(ExitCannotRun)
	}
	configFd, syncFd, err := reexec.ParseFds(InitSubcommand, args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth %s: %v\n", InitSubcommand, err)
		os.Exit(2)
	}
	unix.CloseOnExec(configFd)
	unix.CloseOnExec(syncFd)
	sync := os.NewFile(uintptr(syncFd), "sync")
	cfg, err := readConfig(os.NewFile(uintptr(configFd), "config"))
	if err == nil && cfg.Serve {
		os.Exit(serveMain(sync, cfg))
	}
	var cmd *exec.Cmd
	if err == nil {
		cmd, err = start(cfg)
	}
	if err != nil {
		report(sync, err)
		os.Exit(ExitCannotRun)
	}
	sync.Close() // EOF: the command runs
	os.Exit(wait(cmd))
}

// report sends err to Run as a SetupError.
func report(sync *os.File, err error) {
	b, mErr := json.Marshal(setupError(err))
	if mErr != nil {
		b = []byte(`{"step":"report","message":"cannot encode error"}`)
	}
	if _, wErr := sync.Write(b); wErr != nil {
		fmt.Fprintf(os.Stderr, "berth %s: %v (and report it: %v)\n", InitSubcommand, err, wErr)
	}
}

// setupError is err, a failure before the command ran, as reported.
func setupError(err error) *SetupError {
	var se SetupError
	se.Step, se.Message = reexec.Describe(err, InitSubcommand)
	se.NotFound = se.Step == "find program" && (errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist))
	return &se
}

// readConfig reads and validates the config.
func readConfig(configFile *os.File) (Config, error) {
	var cfg Config
	if err := step("read config", func() error { return reexec.DecodeConfig(configFile, &cfg) }); err != nil {
		return Config{}, err
	}
	if err := step("validate config", cfg.Validate); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// start performs the steps of the package doc up to the command's start.
func start(cfg Config) (*exec.Cmd, error) {
	lastCap, err := enter(cfg)
	if err != nil {
		return nil, err
	}
	// From here on, paths resolve in the container's root.
	u, path, err := resolve(cfg, cfg.Args)
	if err != nil {
		return nil, err
	}
	if err := confine(cfg, lastCap); err != nil {
		return nil, err
	}
	cmd := command(cfg, cfg.Args, u, path)
	if err := step("start "+path, cmd.Start); err != nil {
		return nil, err
	}
	return cmd, nil
}

// enter joins the container's cgroups and namespaces on this thread and
// returns the kernel's last capability, learnt before.
func enter(cfg Config) (int, error) {
	// Cgroup paths are host paths: join before entering the mount
	// namespace. Every thread of this process moves, and the command
	// forked later starts inside. Not the main thread alone, as the
	// container's init stage does: this process never execs and lives on
	// (waiting for the command, or serving probes), so its other threads
	// would stay in the daemon's cgroups for its whole life. Each thread
	// moves itself (reexec.JoinProcess), without the v1 grace period.
	if err := step("join cgroups", func() error { return reexec.JoinProcess(cfg.CgroupProcs) }); err != nil {
		return 0, err
	}
	// Without CAP_SYS_RESOURCE a negative value cannot be set: the command
	// then keeps the caller's, as the container keeps the infra's.
	if err := step("set oom_score_adj", func() error { return container.SetOOMScoreAdj(cfg.OOMScoreAdj) }); err != nil && !errors.Is(err, container.ErrOOMScoreAdjDenied) {
		return 0, err
	}
	// Learnt before entering: nothing after setns may take a decision from
	// the container's files (its /proc may be its own tmpfs).
	var lastCap int
	if err := step("learn the last capability", func() (err error) { lastCap, err = container.LastCap(); return err }); err != nil {
		return 0, err
	}
	if cfg.Seccomp != nil {
		if err := step("read seccomp filter", cfg.Seccomp.ReadProgram); err != nil {
			return 0, err
		}
	}
	var fds []nsFile
	if err := step("open namespaces of "+cfg.Target, func() (err error) { fds, err = openNamespaces(cfg.PID, cfg.StartTime); return err }); err != nil {
		return 0, err
	}
	defer closeAll(fds)
	if err := step("unshare fs", func() error { return unix.Unshare(unix.CLONE_FS) }); err != nil {
		return 0, err
	}
	for _, f := range fds {
		if err := step("join "+f.name+" namespace", func() error { return unix.Setns(f.fd, f.flag) }); err != nil {
			return 0, err
		}
	}
	return lastCap, nil
}

// resolve resolves the user and the program of args in the container.
//
// Preconditions: enter ran on this thread.
func resolve(cfg Config, args []string) (container.ExecUser, string, error) {
	u, err := resolveUser(cfg)
	if err != nil {
		return container.ExecUser{}, "", err
	}
	var path string
	if err := step("find program", func() (err error) { path, err = container.LookPath(args[0], cfg.Env); return err }); err != nil {
		return container.ExecUser{}, "", err
	}
	return u, path, nil
}

// confine limits this thread, and so every command it forks, as the
// container's process is limited: bounding set, no_new_privs, seccomp.
func confine(cfg Config, lastCap int) error {
	// The seccomp filter goes on this thread only, as late as possible:
	// right before the fork with no_new_privs, and before the capabilities
	// are limited without it (loading then needs CAP_SYS_ADMIN).
	loadSeccomp := func() error {
		return step("load seccomp filter", func() error { return seccompload.Load(cfg.Seccomp, false) })
	}
	if cfg.Seccomp != nil && !cfg.NoNewPrivileges {
		if err := loadSeccomp(); err != nil {
			return err
		}
	}
	if err := step("limit capabilities", func() error { return container.LimitCapabilities(cfg.Capabilities, lastCap) }); err != nil {
		return err
	}
	if cfg.NoNewPrivileges {
		if err := step("set no_new_privs", func() error { return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }); err != nil {
			return err
		}
	}
	if cfg.Seccomp != nil && cfg.NoNewPrivileges {
		return loadSeccomp()
	}
	return nil
}

// command describes the child: the credentials, the working directory and
// the session are set by the fork between clone and execve.
func command(cfg Config, args []string, u container.ExecUser, path string) *exec.Cmd {
	cwd := cfg.Cwd
	if cwd == "" {
		cwd = "/"
	}
	cmd := &exec.Cmd{
		Path: path, Args: args, Env: container.EnvWithHome(cfg.Env, u.Home), Dir: cwd,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// No Pdeathsig: the forked child checks getppid() against its
		// parent's PID, and in the container's pid namespace its parent has
		// none, so it would kill itself.
		Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups},
	}
	if cfg.TTY {
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	}
	return cmd
}

// nsFile is an open namespace of the target.
type nsFile struct {
	name string
	fd   int
	flag int
}

var nsFlags = map[string]int{
	"ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS, "net": unix.CLONE_NEWNET,
	"pid": unix.CLONE_NEWPID, "mnt": unix.CLONE_NEWNS,
}

// openNamespaces opens the namespaces of pid, checking before and after
// that pid still is the process that started at start: the fds then belong
// to it, never to a process that reused its PID.
func openNamespaces(pid int, start uint64) ([]nsFile, error) {
	if err := checkStart(pid, start); err != nil {
		return nil, err
	}
	var out []nsFile
	for _, ns := range Namespaces {
		p := "/proc/" + strconv.Itoa(pid) + "/ns/" + ns
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		out = append(out, nsFile{name: ns, fd: fd, flag: nsFlags[ns]})
	}
	if err := checkStart(pid, start); err != nil {
		closeAll(out)
		return nil, err
	}
	return out, nil
}

// ErrGone is returned when the container's process is no longer the one
// the daemon named.
var ErrGone = errors.New("the container's process is gone (did the container restart?)")

func checkStart(pid int, start uint64) error {
	st, err := procstat.StartTime(pid)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("process %d: %w", pid, ErrGone)
	}
	if err != nil {
		return err
	}
	if st != start {
		return fmt.Errorf("process %d started at %d, not %d: %w", pid, st, start, ErrGone)
	}
	return nil
}

func closeAll(fds []nsFile) {
	for _, f := range fds {
		unix.Close(f.fd)
	}
}

// resolveUser resolves cfg.User in the container's /etc/passwd and
// /etc/group by the container init's own rules (container.LookupUser).
func resolveUser(cfg Config) (container.ExecUser, error) {
	var u container.ExecUser
	if err := step("resolve user "+cfg.User, func() (err error) { u, err = container.LookupUser(cfg.User, cfg.AdditionalGIDs); return err }); err != nil {
		return container.ExecUser{}, err
	}
	if cfg.RunAsNonRoot && u.UID == 0 {
		return container.ExecUser{}, &reexec.StepError{Step: "check user", Err: errors.New("container has runAsNonRoot and the user is root")}
	}
	return u, nil
}

// wait forwards termination signals to the command, waits for it and
// returns the exit status to exit with. Terminal signals (SIGINT, SIGQUIT)
// reach the command from its terminal directly and are not forwarded.
func wait(cmd *exec.Cmd) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGHUP)
	signal.Ignore(unix.SIGINT, unix.SIGQUIT)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	ps := cmd.ProcessState
	if ps == nil {
		fmt.Fprintf(os.Stderr, "berth %s: wait: %v\n", InitSubcommand, err)
		return ExitCannotRun
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	return ExitCode(ws.Exited(), ws.ExitStatus(), ws.Signaled(), int(ws.Signal()))
}
