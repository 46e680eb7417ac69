package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/earlyjoin"
)

// Start forks and execs the init stage of the container described by cfg
// and waits until it has either exec'd the user's program (the pid is
// returned) or failed (the child's own error is returned as an *InitError,
// and the child has been reaped).
//
// The exchange between Start (parent) and Main (child):
//
//	Start (infra)                          Main (container init)
//	  pipe(config), pipe(sync)
//	  clone NEWNS [NEWPID] [NEWUTS]
//	  into cgroup v2, exec  ------------>  berth container-init
//	                                         --config-fd=3 --sync-fd=4
//	  write Config JSON, close --[fd 3]-->  read until EOF
//	                                        join v1 cgroups, rootfs,
//	                                        mounts, pivot_root, creds
//	  read fd 4 until EOF  <-----[fd 4]---  failure: InitError JSON, exit 1
//	                                        success: progress JSON (when
//	                                        each step began), then
//	                                        execve(user's program) closes
//	                                        fd 4 (O_CLOEXEC)
//	  EOF, no failure record: return pid
//	  (and the StartTimings)
//	  a failure record: wait4(pid), return it
//
// A child killed before it could write a record also shows as a bare EOF;
// Start then returns its pid and the caller sees the death when it reaps.
// A child that neither execs nor fails within StartOptions.Timeout is
// killed and reaped, and Start returns a *TimeoutError.
//
// Preconditions: the caller is the container's parent and reaper (the pod's
// infra) and reaps it with wait4 later; Start never waits on a started
// child. The child gets SIGKILL when the forking OS thread exits
// (Pdeathsig), so do not call Start from a goroutine that locked its thread
// and lets it die.
func Start(cfg Config, opt StartOptions) (pid int, err error) {
	payload, err := json.Marshal(cfg)
	if err != nil {
		return 0, fmt.Errorf("encode config of container %s: %w", cfg.ID, err)
	}
	files, closeFiles, err := openStdio(opt)
	if err != nil {
		return 0, fmt.Errorf("stdio of container %s: %w", cfg.ID, err)
	}
	defer closeFiles()

	configR, configW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("config pipe of container %s: %w", cfg.ID, err)
	}
	defer configR.Close()
	defer configW.Close()
	syncR, syncW, err := syncChannel(cfg.Terminal)
	if err != nil {
		return 0, fmt.Errorf("sync pipe of container %s: %w", cfg.ID, err)
	}
	defer syncR.Close()
	defer syncW.Close()

	files = append(files, configR.Fd(), syncW.Fd())
	if opt.CgroupDir == "" {
		// v1: the init's entry point joins them before its runtime starts;
		// where it cannot, the init joins the usual way.
		if tasks, err := earlyjoin.Open(cfg.CgroupProcs); err == nil {
			defer earlyjoin.CloseFiles(tasks)
			fds := make([]uintptr, len(tasks))
			for i, f := range tasks {
				fds[i] = f.Fd()
			}
			files = earlyjoin.Place(files, fds, ^uintptr(0))
		}
	}
	attr, closeCgroup, err := procAttr(opt, cfg.Hostname != "", files)
	if err != nil {
		return 0, fmt.Errorf("container %s: %w", cfg.ID, err)
	}
	defer closeCgroup()

	forked := monotonic()
	pid, err = syscall.ForkExec(opt.exe(), initArgs(), attr)
	execd := monotonic()
	if err != nil {
		return 0, fmt.Errorf("start init of container %s from %s: %w", cfg.ID, opt.exe(), err)
	}
	// Only the child may hold these ends, or EOF never comes.
	configR.Close()
	syncW.Close()

	// The whole init stage has one deadline: a child stuck in it (an
	// image file that blocks, a hung mount) is killed, never waited on.
	timeout := opt.timeout()
	deadline := time.Now().Add(timeout)
	if err := errors.Join(configW.SetWriteDeadline(deadline), syncR.SetReadDeadline(deadline)); err != nil {
		return 0, errors.Join(fmt.Errorf("pipe deadlines of container %s: %w", cfg.ID, err), kill(pid))
	}
	// A child that dies before reading gives EPIPE here; its own record
	// (if any) on the sync pipe is the better error, so this one only
	// counts when the sync pipe says nothing.
	_, writeErr := configW.Write(payload)
	configW.Close()

	record, master, readErr := readSync(syncR, cfg.Terminal)
	eof := monotonic()
	if cfg.Terminal && opt.Terminal != nil && master != nil && readErr == nil {
		opt.Terminal.Master = master
	} else if master != nil {
		master.Close()
	}
	if errors.Is(readErr, os.ErrDeadlineExceeded) {
		return 0, errors.Join(fmt.Errorf("init of container %s: %w", cfg.ID, &TimeoutError{Timeout: timeout}), kill(pid))
	}
	prog, ie, decodeErr := syncRecords(record)
	if readErr == nil && decodeErr == nil && ie == nil && writeErr == nil && cfg.Terminal && master == nil {
		decodeErr = errors.New("the init stage passed back no terminal")
	}
	if readErr == nil && decodeErr == nil && ie == nil && writeErr == nil {
		if opt.Timings != nil {
			*opt.Timings = timings(forked, execd, eof, prog)
		}
		return pid, nil
	}
	initErr := initFailure(ie, decodeErr, readErr, writeErr)
	if reapErr := reap(pid); reapErr != nil {
		initErr = errors.Join(initErr, reapErr)
	}
	return 0, fmt.Errorf("init of container %s: %w", cfg.ID, initErr)
}

// openStdio returns fds 0..2 for the child, opening /dev/null for the ones
// not given, and a func closing what it opened.
func openStdio(opt StartOptions) ([]uintptr, func(), error) {
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	fds := make([]uintptr, 0, 5)
	for _, f := range []*os.File{opt.Stdin, opt.Stdout, opt.Stderr} {
		if f == nil {
			null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			opened = append(opened, null)
			f = null
		}
		fds = append(fds, f.Fd())
	}
	return fds, closeAll, nil
}

// procAttr builds the clone attributes: new mount (and pid) namespace, own
// session, SIGKILL on the parent's death, InitEnv as the environment, and the
// cgroup v2 directory to be cloned into. A container with its own hostname
// gets its own UTS namespace (newUTS), so setting it never renames the pod
// or the host.
func procAttr(opt StartOptions, newUTS bool, files []uintptr) (*syscall.ProcAttr, func(), error) {
	sys := &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS,
		Setsid:     true,
		Pdeathsig:  syscall.SIGKILL,
	}
	if !opt.SharePID {
		sys.Cloneflags |= unix.CLONE_NEWPID
	}
	if newUTS {
		sys.Cloneflags |= unix.CLONE_NEWUTS
	}
	closeCgroup := func() {}
	if opt.CgroupDir != "" {
		fd, err := unix.Open(opt.CgroupDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("open cgroup %s: %w", opt.CgroupDir, err)
		}
		sys.UseCgroupFD = true
		sys.CgroupFD = fd
		closeCgroup = func() { unix.Close(fd) }
	}
	return &syscall.ProcAttr{Env: InitEnv(), Files: files, Sys: sys}, closeCgroup, nil
}

// syncRecords splits what came back on the sync pipe into the init
// stage's progress record (written just before execve) and its failure
// record, if any.
func syncRecords(data []byte) (progress, *InitError, error) {
	var p progress
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var r struct {
			progress
			InitError
		}
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return p, nil, nil
		}
		if err != nil {
			return p, nil, fmt.Errorf("undecodable record %q on sync pipe: %w", data, err)
		}
		if r.Step != "" {
			ie := r.InitError
			return p, &ie, nil
		}
		p = r.progress
	}
}

// initFailure is the error of a start that did not succeed, the child's
// own record first.
func initFailure(ie *InitError, decodeErr, readErr, writeErr error) error {
	switch {
	case ie != nil:
		return ie
	case decodeErr != nil:
		return decodeErr
	case readErr != nil:
		return fmt.Errorf("read sync pipe: %w", readErr)
	}
	return fmt.Errorf("send config: %w", writeErr)
}

// reap collects the exit status of a child that failed during init, so no
// zombie is left for the caller to misread as a container exit. ECHILD
// means the caller's own reaper (the infra's SIGCHLD loop) got there first.
func reap(pid int) error {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil && !errors.Is(err, unix.ECHILD) {
			return fmt.Errorf("reap init pid %d: %w", pid, err)
		}
		return nil
	}
}

// kill ends an init stage that overran its deadline and reaps it. With its
// own pid namespace, everything it started dies with it.
func kill(pid int) error {
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill init pid %d: %w", pid, err)
	}
	return reap(pid)
}

// syncChannel makes the sync channel of the init stage: a pipe, or with
// a terminal a socket pair, over which the init stage passes the master
// of the pty it made (SCM_RIGHTS). The parent's end is non-blocking, so
// reads take the deadline.
func syncChannel(terminal bool) (r, w *os.File, err error) {
	if !terminal {
		return os.Pipe()
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync"), nil
}

// readSync reads what the init stage sent until EOF: its records, and
// with a terminal the pty master, which comes first with a NUL byte (no
// record starts with one). Another fd passed along is closed.
func readSync(r *os.File, terminal bool) ([]byte, *os.File, error) {
	if !terminal {
		b, err := io.ReadAll(r)
		return b, nil, err
	}
	rc, err := r.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var data []byte
	var master *os.File
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		var n, oobn int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			if master != nil {
				master.Close()
			}
			return data, nil, err
		}
		for _, fd := range passedFds(oob[:oobn]) {
			if master == nil {
				master = os.NewFile(uintptr(fd), "pty-master")
				continue
			}
			unix.Close(fd)
		}
		if n == 0 && oobn == 0 {
			break
		}
		data = append(data, buf[:n]...)
	}
	if master != nil && len(data) > 0 && data[0] == 0 {
		data = data[1:]
	}
	return data, master, nil
}

// passedFds are the fds of the SCM_RIGHTS messages in oob, made
// non-blocking so that the runtime polls them.
func passedFds(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var out []int
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.SetNonblock(fd, true)
			out = append(out, fd)
		}
	}
	return out
}
