package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/hostclean"
	"github.com/berth-project/berth/internal/testutil"
)

// run is one chaos run's daemon: its own temporary directories, bridge,
// CIDR, nftables table and cgroup parent, all named after a random id.
type run struct {
	id                                string
	dir                               string
	bin                               string // berth, built by hack/build
	manifests, state, runDir, logs    string
	sock                              string
	bridge, cidr, table, cgroupParent string

	mu     sync.Mutex
	daemon *os.Process // nil while no daemon runs
	exited map[int]chan struct{}
	log    *os.File // the daemons' output, all of them
}

func newRun() (*run, error) {
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	dir, err := os.MkdirTemp("", "berth-chaos-")
	if err != nil {
		return nil, err
	}
	r := &run{
		id: id, dir: dir, bin: filepath.Join(dir, "berth"),
		manifests: filepath.Join(dir, "m"), state: filepath.Join(dir, "s"),
		runDir: filepath.Join(dir, "r"), logs: filepath.Join(dir, "l"),
		sock:   filepath.Join(dir, "r", "berth.sock"),
		bridge: "bc" + id, table: "berth_chaos_" + id,
		cidr:         fmt.Sprintf("10.%d.%d.0/23", 100+int(b[0])%40, int(b[1])&^1),
		cgroupParent: "berth-chaos-" + id,
		exited:       map[int]chan struct{}{},
	}
	if err := os.MkdirAll(r.manifests, 0o755); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *run) hostclean() hostclean.Daemon {
	return hostclean.Daemon{Dir: r.dir, Bridge: r.bridge, Table: r.table, CgroupParent: r.cgroupParent}
}

// prepare builds berth with hack/build and imports the demo workload as
// image ref into the run's image store.
func (r *run) prepare(repo, ref string) error {
	cmd := exec.Command("bash", "hack/build", r.bin, "-trimpath")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hack/build berth: %w\n%s", err, out)
	}
	bin, err := testutil.BuildWorkload()
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	rootfs := filepath.Join(r.dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(rootfs)
	if err := testutil.WriteRootfs(rootfs, bin); err != nil {
		return fmt.Errorf("workload rootfs: %w", err)
	}
	cmd = exec.Command(r.bin, r.args("image", "import", "--rootfs", rootfs, ref)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("berth image import: %w\n%s", err, out)
	}
	f, err := os.Create(filepath.Join(r.dir, "daemon.log"))
	if err != nil {
		return err
	}
	r.log = f
	return nil
}

func (r *run) args(extra ...string) []string {
	return append([]string{
		"--manifests", r.manifests, "--state-dir", r.state, "--run-dir", r.runDir,
		"--log-dir", r.logs, "--socket", r.sock,
	}, extra...)
}

// becomeSubreaper makes this process the reaper of every orphan below it,
// so that an infra whose daemon was killed is re-parented here rather than
// to init: the process tree then shows what the run left. From here on
// children are reaped only by reap, never by exec.Cmd.Wait.
func (r *run) becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	go r.reap()
	return nil
}

// reap waits for every child, adopted or not, and tells start's waiters
// which daemon exited.
func (r *run) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.ECHILD {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			continue
		}
		r.mu.Lock()
		if ch, ok := r.exited[pid]; ok {
			close(ch)
			delete(r.exited, pid)
		}
		r.mu.Unlock()
	}
}

// start runs a daemon and returns without waiting for it to serve: a kill
// may come while it recovers.
func (r *run) start() error {
	cmd := exec.Command(r.bin, r.args("daemon", "--bridge", r.bridge, "--cidr", r.cidr,
		"--nft-table", r.table, "--cgroup-parent", r.cgroupParent, "--debounce", "20ms",
		"--backoff-initial", "100ms", "--backoff-max", "1s")...)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start berth daemon: %w", err)
	}
	r.daemon = cmd.Process
	r.exited[cmd.Process.Pid] = make(chan struct{})
	return nil
}

// stop signals the daemon and waits until it has exited.
func (r *run) stop(sig syscall.Signal, timeout time.Duration) error {
	r.mu.Lock()
	p := r.daemon
	var ch chan struct{}
	if p != nil {
		ch = r.exited[p.Pid]
	}
	r.daemon = nil
	r.mu.Unlock()
	if p == nil {
		return nil
	}
	p.Signal(sig)
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-time.After(timeout):
		p.Kill()
		<-ch
		return fmt.Errorf("daemon %d did not exit within %v of %v", p.Pid, timeout, sig)
	}
}

// daemonPID is the running daemon's PID, 0 when none runs.
func (r *run) daemonPID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.daemon == nil {
		return 0
	}
	return r.daemon.Pid
}

func (r *run) client() *api.Client { return api.NewClient(r.sock) }

// serving waits until the daemon answers on its socket.
func (r *run) serving(timeout time.Duration) error {
	return poll(timeout, func() bool {
		_, err := r.client().Pods(context.Background())
		return err == nil
	})
}

// poll calls cond with growing intervals up to 100ms until it is true; an
// error after timeout.
func poll(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
		time.Sleep(wait)
	}
	return nil
}

// write puts a manifest in place atomically: written beside the manifest
// directory, renamed into it.
func (r *run) write(s *slot, image string) error {
	tmp := filepath.Join(r.dir, s.name+".yaml.tmp")
	if err := os.WriteFile(tmp, []byte(s.manifest(image)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, r.path(s))
}

func (r *run) path(s *slot) string { return filepath.Join(r.manifests, s.name+".yaml") }
