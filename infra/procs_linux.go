package infra

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/attachio"
	"github.com/berth-project/berth/internal/crilog"
	"github.com/berth-project/berth/kube"
)

// startFunc starts a container process; container.Start in production.
type startFunc func(cfg container.Config, opt container.StartOptions) (int, error)

// procsLinux is the supervisor's real OS side.
type procsLinux struct {
	cfg     *PodConfig
	log     *slog.Logger
	startFn startFunc
	// post runs f on the supervisor loop.
	post func(f func())
	// event records a container's event (on the loop).
	event func(container, typ, reason, msg string)

	// drains maps a running container's pid to a channel closed once both
	// of its output streams reached EOF and are in the log.
	drainMu sync.Mutex
	drains  map[int]chan struct{}

	// ios maps a container's name to its current run's stdio, which
	// attach sessions join; a run leaves it once its output ended.
	ioMu sync.Mutex
	ios  map[string]*runIO
}

// drained hands over (and forgets) the drain channel of pid; nil for a
// process that is not a container run.
func (p *procsLinux) drained(pid int) <-chan struct{} {
	p.drainMu.Lock()
	defer p.drainMu.Unlock()
	done, ok := p.drains[pid]
	if !ok {
		return nil
	}
	delete(p.drains, pid)
	return done
}

var _ procs = (*procsLinux)(nil)

// start starts the runs in parallel, off the supervisor loop: each one's
// init stage (exec, rootfs, mounts) takes milliseconds of mostly CPU, a
// pod's containers are independent of each other, and a stuck one (killed
// at container.DefaultInitTimeout) must not stop the loop from answering.
func (p *procsLinux) start(runs []runSpec, done func([]runStart)) {
	go func() {
		out := make([]runStart, len(runs))
		var wg sync.WaitGroup
		for i, r := range runs {
			wg.Go(func() {
				out[i].pid, out[i].logPath, out[i].err = p.startOne(r.cfg, r.n, &out[i].timings)
			})
		}
		wg.Wait()
		p.post(func() { done(out) })
	}()
}

func (p *procsLinux) startOne(c *ContainerConfig, run int, timings *kube.StartTimings) (int, string, error) {
	if err := resetWritableLayer(c.Init.UpperDir, c.Init.WorkDir); err != nil {
		return 0, "", fmt.Errorf("fresh writable layer for container %s: %w", c.Name, err)
	}
	if err := resetTerminationFile(c.TerminationMessageFile); err != nil {
		return 0, "", fmt.Errorf("termination message file of container %s: %w", c.Name, err)
	}
	logPath := crilog.Path(p.cfg.LogDir, c.Name, run)
	logW, err := crilog.OpenWriter(crilog.WriterConfig{
		Dir: filepath.Dir(logPath), Run: run,
		MaxSize: p.cfg.LogMaxSize, MaxFiles: p.cfg.LogMaxFiles,
		Log: p.log.With("pod", p.cfg.Key, "container", c.Name),
		Dropping: func(dropped uint64, err error) {
			typ, reason, msg := kube.EventWarning, kube.EventLogWriteFailed, fmt.Sprintf("writing the log failed, later lines are dropped until it works again: %v", err)
			if err == nil {
				typ, reason, msg = kube.EventNormal, kube.EventLogWriteResumed, fmt.Sprintf("writing the log works again; %d lines were dropped meanwhile", dropped)
			}
			// Off the copier: the loop may be waiting for this run's output.
			go p.event(c.Name, typ, reason, msg)
		},
	})
	if err != nil {
		return 0, logPath, fmt.Errorf("log of container %s: %w", c.Name, err)
	}
	st, err := openStdio(c)
	if err != nil {
		logW.Close()
		return 0, logPath, fmt.Errorf("stdio of container %s: %w", c.Name, err)
	}
	init := c.Init
	init.Terminal = c.TTY
	var term container.Terminal
	pid, startErr := p.startFn(init, container.StartOptions{
		Stdin:     st.childIn,
		Stdout:    st.childOut,
		Stderr:    st.childErr,
		Terminal:  &term,
		SharePID:  p.cfg.SharePID || p.cfg.HostPID,
		CgroupDir: c.CgroupDir,
		Timings:   timings,
	})
	// The child holds its own copies; EOF comes when the last one closes.
	st.closeChild()
	if term.Master != nil {
		st.addTerminal(term.Master, c.Stdin)
	}
	rio := newRunIO(c, p.log.With("pod", p.cfg.Key), st.in, st.master)
	if startErr == nil {
		p.ioMu.Lock()
		p.ios[c.Name] = rio
		p.ioMu.Unlock()
	}
	// Drain even after a failed start: the init stage may have written why.
	done := p.copyLogs(c.Name, logW, rio, st.streams)
	if startErr != nil {
		return 0, logPath, startErr
	}
	p.drainMu.Lock()
	p.drains[pid] = done
	p.drainMu.Unlock()
	return pid, logPath, nil
}

// stdio is a run's standard streams: the child's ends, and the infra's
// (the output streams it logs, where input goes, the terminal).
type stdio struct {
	childIn, childOut, childErr *os.File
	streams                     []logStream
	in, master                  *os.File
}

// logStream is one output stream of a run and its name in the log.
type logStream struct {
	r    *os.File
	name string
}

// openStdio makes a run's stdio: a pipe for stdout and one for stderr,
// and with stdin a stdin pipe the infra holds open, else /dev/null. With
// tty the init stage makes the container's terminal (addTerminal), and
// the one pipe given to it carries only what the init stage itself
// writes before, logged as stderr.
func openStdio(c *ContainerConfig) (*stdio, error) {
	st := &stdio{}
	n := 2
	if c.TTY {
		n = 1
	}
	var files []*os.File
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(files...)
			return nil, fmt.Errorf("output pipe: %w", err)
		}
		files = append(files, r, w)
	}
	if c.TTY {
		st.childOut, st.childErr = files[1], files[1]
		st.streams = []logStream{{files[0], crilog.Stderr}}
		return st, nil
	}
	st.childOut, st.childErr = files[1], files[3]
	st.streams = []logStream{{files[0], crilog.Stdout}, {files[2], crilog.Stderr}}
	if c.Stdin {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(files...)
			return nil, fmt.Errorf("stdin pipe: %w", err)
		}
		st.childIn, st.in = r, w
	}
	return st, nil
}

// addTerminal takes the master of the terminal the init stage made: all
// the container's output (logged as stdout, as the CRI does), and its
// input with stdin.
func (st *stdio) addTerminal(master *os.File, stdin bool) {
	st.master = master
	st.streams = append(st.streams, logStream{master, crilog.Stdout})
	if stdin {
		st.in = master
	}
}

// closeChild closes the child's ends once it holds them.
func (st *stdio) closeChild() {
	closeAll(st.childIn, st.childOut)
	if st.childErr != st.childOut {
		closeAll(st.childErr)
	}
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// attachTo returns the current run of container name, for an attach.
func (p *procsLinux) attachTo(name string) (*runIO, bool) {
	p.ioMu.Lock()
	defer p.ioMu.Unlock()
	r, ok := p.ios[name]
	return r, ok
}

// copyLogs writes the run's output streams to its log in CRI format, one
// goroutine per stream (each parked in the netpoller while the container is
// quiet) that passes what it reads to the run's attach sessions too, and
// closes everything when every stream ended; closing marks the run's log
// complete for readers that follow it. The returned channel is closed
// then.
func (p *procsLinux) copyLogs(name string, logW *crilog.Writer, rio *runIO, streams []logStream) chan struct{} {
	done := make(chan struct{})
	var open atomic.Int32
	open.Store(int32(len(streams)))
	copyStream := func(s logStream) {
		kind := attachio.Stdout
		if s.name == crilog.Stderr {
			kind = attachio.Stderr
		}
		if err := crilog.Copy(logW, teeReader{r: s.r, io: rio, kind: kind}, s.name, time.Now); err != nil {
			p.log.Warn("container log", "pod", p.cfg.Key, "container", name, "err", err)
		}
		s.r.Close()
		if open.Add(-1) == 0 {
			if err := logW.Close(); err != nil {
				p.log.Warn("container log", "pod", p.cfg.Key, "container", name, "err", err)
			}
			p.ioMu.Lock()
			if p.ios[name] == rio {
				delete(p.ios, name)
			}
			p.ioMu.Unlock()
			rio.end()
			close(done)
		}
	}
	for _, s := range streams {
		go copyStream(s)
	}
	return done
}

// resetWritableLayer gives a run an empty overlay upper and work dir, as
// Kubernetes gives every restarted container a fresh writable layer. The
// upper dir keeps its mode, since it becomes the mode of the rootfs "/".
// An empty one (a first run's, which the daemon just made) is kept as it
// is.
func resetWritableLayer(upper, work string) error {
	for _, dir := range []string{upper, work} {
		if dir == "" || emptyDir(dir) {
			continue
		}
		mode := os.FileMode(0o755)
		if fi, err := os.Lstat(dir); err == nil && fi.IsDir() {
			mode = fi.Mode().Perm()
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
		if err := os.Mkdir(dir, mode); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	return nil
}

// emptyDir reports whether dir is a directory (not a link to one) with
// nothing in it.
func emptyDir(dir string) bool {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	_, err = f.Readdirnames(1)
	return err == io.EOF
}

func (p *procsLinux) signal(pid int, sig syscall.Signal) error {
	if err := unix.Kill(pid, sig); err != nil {
		return fmt.Errorf("send %s to pid %d: %w", sig, pid, err)
	}
	return nil
}

func (p *procsLinux) oomKills(c *ContainerConfig) (uint64, bool) {
	if c.OOMEventsFile == "" {
		return 0, false
	}
	n, err := readOOMKill(c.OOMEventsFile)
	if err != nil {
		p.log.Debug("oom events unknown", "pod", p.cfg.Key, "container", c.Name, "err", err)
		return 0, false
	}
	return n, true
}

func (p *procsLinux) afterFunc(d time.Duration, f func()) func() {
	t := time.AfterFunc(d, func() { p.post(f) })
	return func() { t.Stop() }
}
