package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/earlyjoin"
)

// LaunchOptions are the daemon-side settings of Launch.
type LaunchOptions struct {
	// Exe is the sealed berth binary (docs/security.md rule 4).
	Exe string
	// CgroupDir is the pod's infra cgroup on v2: the infra is cloned into
	// it. Empty on v1, where the infra joins its cgroups itself
	// (PodConfig.CgroupProcs).
	CgroupDir string
	// ReadyTimeout bounds the wait for the ready record; 0 is 30s.
	ReadyTimeout time.Duration
}

// ErrLaunch wraps the failure the infra reported on its ready fd.
var ErrLaunch = errors.New("infra failed to start")

// Launching is an infra process that exists, with its namespaces, and is
// finishing its start-up in the background.
type Launching struct {
	// Proc is the infra process. Its net namespace exists from the start,
	// so the pod's network can be set up while the infra starts.
	Proc *os.Process
	// PID is Proc's pid, which it keeps after Reap released Proc (that
	// sets Proc.Pid to -1).
	PID int

	readyDone chan struct{}
	readyErr  error
}

// Wait returns once the infra is ready and serves its socket (requests
// sent before, such as the Start, wait there until it does), or with why
// not; the infra has then been killed and reaped.
func (l *Launching) Wait() error {
	<-l.readyDone
	return l.readyErr
}

// Launch starts the infra of the pod described by cfg and returns as soon
// as the process exists; sending the config and waiting for the ready
// record go on until Wait returns. On v2 the infra is cloned into its
// cgroup; on v1 it joins its cgroups itself, and clones no container
// before: the daemon writing its pid to cgroup.procs would wait for an RCU
// grace period (5 to 20 ms measured here) holding the cgroup mutex, which
// the containers' own joins need. The infra gets its tasks files and
// joins from its entry point, before the Go runtime starts
// (internal/earlyjoin); a build without that entry point joins once it
// has read its config, every thread moving itself (reexec.JoinProcess).
//
// The infra is the daemon's child, but nothing ties its life to the
// daemon's: it has its own session, and when the daemon exits (restart,
// upgrade, crash) it is re-parented to init or the nearest subreaper and
// keeps running; the next daemon re-attaches with NewClient. While the daemon
// lives, it must reap the process once Wait succeeded: call Reap in a
// goroutine.
func Launch(cfg PodConfig, opt LaunchOptions) (*Launching, error) {
	return launch(cfg, opt, Subcommand)
}

// launch is Launch with the subcommand to run (tests use a variant).
func launch(cfg PodConfig, opt LaunchOptions, subcommand string) (*Launching, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config of pod %s: %w", cfg.Key, err)
	}
	sock, err := controlSocket(cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("infra of pod %s: %w", cfg.Key, err)
	}
	// The infra's copy is the one that serves; it unlinks the path when it
	// closes. Without an infra the path is removed here.
	defer sock.Close()
	started := false
	defer func() {
		if !started {
			os.Remove(cfg.Socket)
		}
	}()
	configR, configW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("config pipe of pod %s: %w", cfg.Key, err)
	}
	defer configR.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		configW.Close()
		return nil, fmt.Errorf("ready pipe of pod %s: %w", cfg.Key, err)
	}
	defer readyW.Close()

	attr, closeAttr, err := infraProcAttr(cfg, opt, configR, readyW, sock)
	if err != nil {
		configW.Close()
		readyR.Close()
		return nil, fmt.Errorf("infra of pod %s: %w", cfg.Key, err)
	}
	defer closeAttr()
	args := []string{"berth", subcommand, "--config-fd=3", "--ready-fd=4", "--listen-fd=5"}
	proc, err := os.StartProcess(opt.Exe, args, attr)
	if err != nil {
		configW.Close()
		readyR.Close()
		return nil, fmt.Errorf("start infra of pod %s from %s: %w", cfg.Key, opt.Exe, err)
	}
	started = true
	// Only the child may hold these ends, or EOF never comes.
	configR.Close()
	readyW.Close()
	l := &Launching{Proc: proc, PID: proc.Pid, readyDone: make(chan struct{})}
	go func() {
		err := handshake(payload, opt.ReadyTimeout, configW, readyR)
		if err != nil {
			// Never leave a half-started infra behind, nor its socket.
			proc.Kill()
			proc.Wait()
			os.Remove(cfg.Socket)
			err = fmt.Errorf("infra of pod %s (pid %d): %w", cfg.Key, proc.Pid, err)
		}
		l.readyErr = err
		close(l.readyDone)
	}()
	return l, nil
}

// errUnsafeSocketDir refuses a socket directory others could reach.
var errUnsafeSocketDir = errors.New("socket directory must be a root-owned directory with mode 0700")

// controlSocket makes the pod's path-based control socket (never abstract:
// an abstract socket would be reachable from inside the pod's network
// namespace), mode 0600 in a root-only directory, replacing a stale socket
// file left by a dead infra, and returns it listening, for the launcher to
// hand to the infra: connections queue from then on, and the first
// requests (the Start) wait there while the infra finishes its start. The
// mode is set between bind and listen, when nothing can connect yet. The
// backlog is the kernel's cap, not net.Listen's read of somaxconn: that
// walk to /proc/sys/net/core takes a step per network namespace on the
// host, which made each start grow with the pods up.
func controlSocket(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("socket directory %s: %w", dir, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || st.Uid != 0 || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s (%s): %w", dir, fi.Mode(), errUnsafeSocketDir)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("socket path %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: path})
	if err == nil {
		if err = unix.Chmod(path, 0o600); err == nil {
			err = unix.Listen(fd, unix.SOMAXCONN)
		}
		if err != nil {
			os.Remove(path)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return f, nil
}

// infraEnv is the infra's whole environment. The Go runtime sizes its
// per-P caches as it starts, before Main can lower GOMAXPROCS: starting
// with one P keeps the infra's private memory at about 1.0 MB, against 1.03
// to 1.26 MB when it starts with one P per CPU (Pss_Anon of five infras on
// this 2-CPU machine). Containers never see it: each gets its own
// environment at execve.
var infraEnv = []string{"GOMAXPROCS=1"}

// infraProcAttr builds the clone attributes: new namespaces, own session,
// /dev/null stdio (the infra logs to a file in the pod's log directory),
// the config, ready and control socket fds (3, 4, 5), the v2 cgroup and
// infraEnv.
func infraProcAttr(cfg PodConfig, opt LaunchOptions, configR, readyW, sock *os.File) (*os.ProcAttr, func(), error) {
	var flags uintptr
	if !cfg.HostNetwork {
		flags |= unix.CLONE_NEWNET | unix.CLONE_NEWUTS
	}
	if !cfg.HostIPC {
		flags |= unix.CLONE_NEWIPC
	}
	if cfg.SharePID {
		flags |= unix.CLONE_NEWPID
	}
	sys := &syscall.SysProcAttr{Cloneflags: flags, Setsid: true}
	// Read-write: the infra logs to stderr until it has read its config,
	// and a write to a read-only fd fails with EBADF.
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	closers := []func() error{null.Close}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	files := []*os.File{null, null, null, configR, readyW, sock}
	if opt.CgroupDir != "" {
		fd, err := unix.Open(opt.CgroupDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("open cgroup %s: %w", opt.CgroupDir, err)
		}
		sys.UseCgroupFD, sys.CgroupFD = true, fd
		closers = append(closers, func() error { return unix.Close(fd) })
	} else if tasks, err := earlyjoin.Open(cfg.CgroupProcs); err == nil {
		// v1: the entry point joins them before the runtime starts. Where
		// it cannot (a hierarchy without tasks files), the infra joins
		// the usual way and reports what fails.
		files = earlyjoin.Place(files, tasks, nil)
		closers = append(closers, func() error { earlyjoin.CloseFiles(tasks); return nil })
	}
	return &os.ProcAttr{
		Dir:   "/",
		Env:   infraEnv,
		Files: files,
		Sys:   sys,
	}, closeAll, nil
}

// handshake sends the config and reads the ready record. It closes
// configW and readyR.
func handshake(payload []byte, timeout time.Duration, configW, readyR *os.File) error {
	defer readyR.Close()
	// A failure here shows as a ready record or a bare EOF below.
	_, writeErr := configW.Write(payload)
	configW.Close()
	return readReady(readyR, timeout, writeErr)
}

// readReady reads the ready record; writeErr is the failure to send the
// config, reported when the infra exited without a record.
func readReady(readyR *os.File, timeout time.Duration, writeErr error) error {
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if err := readyR.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("ready pipe deadline: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(readyR, 64<<10))
	if err != nil {
		return fmt.Errorf("wait for ready record: %w", err)
	}
	var rec readyRecord
	if len(data) == 0 {
		return fmt.Errorf("%w: exited without a ready record: %w", ErrLaunch, errors.Join(writeErr, errors.New("no record")))
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return fmt.Errorf("ready record %q: %w", data, err)
	}
	if rec.Error != "" {
		return fmt.Errorf("%w: %s", ErrLaunch, rec.Error)
	}
	return nil
}
