package infra

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/earlyjoin"
	"github.com/berth-project/berth/internal/procstat"
	"github.com/berth-project/berth/internal/reexec"
)

// Subcommand is the hidden subcommand cmd/berth dispatches to Main before
// any flag parsing.
const Subcommand = "infra"

// readyRecord is what the infra writes on its ready fd: its pid, or why it
// could not start.
type readyRecord struct {
	PID   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
}

// Main is the infra process: `berth infra --config-fd=N --ready-fd=M
// --listen-fd=L` (args without the subcommand; a leading "infra" is
// accepted too). It does not return: it exits when the pod was shut down,
// or on SIGTERM after stopping the containers.
func Main(args []string) {
	os.Exit(run(args, container.Start))
}

// run is Main with the container starter injected.
func run(args []string, start startFunc) int {
	// One P is plenty for a process that mostly sleeps; a low GC target
	// keeps the tiny heap tiny (it only grows while containers log).
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(25)
	// Standard error is /dev/null unless a test says otherwise; once the
	// config is read, the log goes to the pod's log directory.
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	fds, err := parseFlags(args)
	if err != nil {
		log.Error("infra arguments", "err", err)
		return 2
	}
	ready := os.NewFile(uintptr(fds.ready), "ready")
	cfg, srv, oomErr, err := setup(fds, log, start)
	if err != nil {
		sendReady(ready, readyRecord{Error: err.Error()})
		return 1
	}
	// Connections are taken, and their requests read, from now on: the
	// daemon sent the Start while this infra started, and it is read and
	// decoded while the ready record goes out. What a request asks is
	// done on the loop (serve).
	go srv.accept()
	if err := sendReady(ready, readyRecord{PID: srv.sup.self.PID}); err != nil {
		srv.log.Error("infra readiness", "pod", cfg.Key, "err", err)
		srv.close()
		return 1
	}
	// Logged only now: the pod waits for the ready record, not for the
	// logger's first line.
	if oomErr != nil {
		srv.log.Warn("infra keeps the daemon's oom_score_adj", "pod", cfg.Key, "err", oomErr)
	}
	srv.log.Info("infra ready", "pod", cfg.Key, "pid", srv.sup.self.PID)
	srv.serve()
	return 0
}

// launchFds are the fds the launcher passes: the config to read, the ready
// record to write, the control socket to serve.
type launchFds struct{ config, ready, listen int }

func parseFlags(args []string) (launchFds, error) {
	if len(args) > 0 && args[0] == Subcommand {
		args = args[1:]
	}
	var fds launchFds
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&fds.config, "config-fd", -1, "fd to read the PodConfig JSON from")
	fs.IntVar(&fds.ready, "ready-fd", -1, "fd to write the ready record to")
	fs.IntVar(&fds.listen, "listen-fd", -1, "fd of the listening control socket")
	if err := fs.Parse(args); err != nil {
		return launchFds{}, fmt.Errorf("parse infra flags: %w", err)
	}
	all := []int{fds.config, fds.ready, fds.listen}
	slices.Sort(all)
	if all[0] < 3 || all[0] == all[1] || all[1] == all[2] {
		return launchFds{}, fmt.Errorf("infra needs distinct --config-fd, --ready-fd and --listen-fd >= 3, got %d, %d and %d", fds.config, fds.ready, fds.listen)
	}
	return fds, nil
}

// ProcessName is the infra's comm, as ps and /proc/PID/comm show it.
const ProcessName = "berth-infra"

// setup makes the process a safe pause process and returns the server that
// is ready to serve. Each step is one call; errors name it. oomErr is a
// lowering of oom_score_adj the kernel refused, which the infra survives.
func setup(fds launchFds, log *slog.Logger, start startFunc) (_ *PodConfig, _ *server, oomErr, err error) {
	// Non-dumpable first: with shareProcessNamespace the containers can see
	// this process, and /proc/PID/exe must not lead to the berth binary.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, nil, nil, fmt.Errorf("set infra non-dumpable: %w", err)
	}
	// The binary runs from a memfd, so its name would be a fd number: name
	// it for ps and for the containers of a shared pid namespace.
	if err := reexec.NameProcess(ProcessName); err != nil {
		return nil, nil, nil, err
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, nil, nil, fmt.Errorf("become child subreaper: %w", err)
	}
	// Under memory pressure the kernel should kill a container before the
	// infra, whose end ends the pod; each container's init sets its own.
	switch err := container.SetOOMScoreAdj(OOMScoreAdj); {
	case errors.Is(err, container.ErrOOMScoreAdjDenied):
		oomErr = err
	case err != nil:
		return nil, nil, nil, err
	}
	if err := chdirRoot(); err != nil {
		return nil, nil, nil, err
	}
	if err := closeInheritedFds(fds.config, fds.ready, fds.listen); err != nil {
		return nil, nil, nil, err
	}
	cfg, err := readConfig(fds.config)
	if err != nil {
		return nil, nil, nil, err
	}
	// Into the pod's infra cgroups as soon as it knows them, while it
	// finishes its start and the daemon reads the ready record.
	join := startJoin(cfg.Key, cfg.CgroupProcs)
	// Until here failures travel on the ready fd; from now on the infra
	// logs to its file in the pod's log directory.
	if w, err := openInfraLog(cfg.LogDir); err == nil {
		log = slog.New(slog.NewJSONHandler(w, nil))
	} else {
		log.Warn("infra log", "pod", cfg.Key, "err", err)
	}
	if !cfg.HostNetwork && cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return nil, nil, nil, fmt.Errorf("set hostname %q of pod %s: %w", cfg.Hostname, cfg.Key, err)
		}
	}
	if err := writeSysctls(cfg.Sysctls); err != nil {
		return nil, nil, nil, fmt.Errorf("pod %s: %w", cfg.Key, err)
	}
	self, err := selfIdentity()
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := inheritedListener(fds.listen)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("control socket of pod %s: %w", cfg.Key, err)
	}
	return cfg, newServer(cfg, log, ln, start, self, join), oomErr, nil
}

// cgroupJoin is the infra's own move into its v1 cgroups, every thread of
// it: done by the entry point before the runtime started, or else
// (reexec.JoinProcess) in the background from its start, and waited
// for before it clones a container (Start, Update), which must start in
// the pod's cgroups, never in the daemon's. A failure fails those
// requests, so the daemon's create fails with it.
type cgroupJoin struct {
	done chan struct{}
	err  error
}

func startJoin(pod string, procs []string) *cgroupJoin {
	j := &cgroupJoin{done: make(chan struct{})}
	if earlyjoin.Joined(len(procs)) {
		// Joined before the runtime started; closeInheritedFds closed the
		// tasks files.
		close(j.done)
		return j
	}
	go func() {
		if err := reexec.JoinProcess(procs); err != nil {
			j.err = fmt.Errorf("move infra of pod %s into its cgroups: %w", pod, err)
		}
		close(j.done)
	}()
	return j
}

// wait returns once the join ended, with its failure.
func (j *cgroupJoin) wait() error {
	<-j.done
	return j.err
}

// chdirRoot leaves whatever directory was inherited (CVE-2024-21626) and
// checks that the result really is "/".
func chdirRoot() error {
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	wd, err := unix.Getwd()
	if err != nil || wd != "/" {
		return fmt.Errorf("working directory after chdir / is %q: %w", wd, errors.Join(err, errors.New("not /")))
	}
	return nil
}

// closeInheritedFds closes every fd above stderr that came through exec,
// except the config and ready fds. Fds without FD_CLOEXEC are exactly the
// inherited ones: everything the Go runtime opens has CLOEXEC set, so its
// own fds (epoll, ...) are never touched. The kept fds get CLOEXEC so no
// container inherits them.
func closeInheritedFds(keep ...int) error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list inherited fds: %w", err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			continue // the directory's own fd, closed by now
		}
		if keepFd(fd, keep) {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil {
				return fmt.Errorf("set CLOEXEC on fd %d: %w", fd, err)
			}
			continue
		}
		if flags&unix.FD_CLOEXEC == 0 {
			if err := unix.Close(fd); err != nil {
				return fmt.Errorf("close inherited fd %d: %w", fd, err)
			}
		}
	}
	return nil
}

func keepFd(fd int, keep []int) bool {
	for _, k := range keep {
		if fd == k {
			return true
		}
	}
	return false
}

// readConfig reads and validates the PodConfig on fd until EOF, then
// closes fd.
func readConfig(fd int) (*PodConfig, error) {
	f := os.NewFile(uintptr(fd), "config")
	defer f.Close()
	var cfg PodConfig
	if err := json.NewDecoder(io.LimitReader(f, MaxFrame)).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("read pod config from fd %d: %w", fd, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// selfIdentity returns the infra's pid in the host pid namespace (/proc is
// the host's procfs even when the infra has its own pid namespace) and its
// start time.
func selfIdentity() (PodStatus, error) {
	link, err := os.Readlink("/proc/self")
	if err != nil {
		return PodStatus{}, fmt.Errorf("infra pid: %w", err)
	}
	pid, err := strconv.Atoi(link)
	if err != nil {
		return PodStatus{}, fmt.Errorf("infra pid %q: %w", link, err)
	}
	start, err := procstat.StartTime(pid)
	if err != nil {
		return PodStatus{}, fmt.Errorf("infra start time: %w", err)
	}
	return PodStatus{PID: pid, StartTime: start}, nil
}

// sendReady writes the ready record and closes the fd, which ends
// Launch's read.
func sendReady(f *os.File, rec readyRecord) error {
	defer f.Close()
	if err := json.NewEncoder(f).Encode(rec); err != nil {
		return fmt.Errorf("write ready record: %w", err)
	}
	return nil
}

// notifySignals routes the signals the infra handles to ch and ignores
// SIGHUP (there is no terminal; setsid) like pause.c ignores the rest.
func notifySignals(ch chan<- os.Signal) {
	signal.Ignore(syscall.SIGHUP)
	signal.Notify(ch, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
}
