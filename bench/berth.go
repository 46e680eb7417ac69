package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/hostclean"
)

// berthDaemon is a berth daemon on its own temporary directories, bridge,
// CIDR, nftables table and cgroup parent (as e2e's harness makes them), so
// it never meets the host's own berth.
type berthDaemon struct {
	e                                 *env
	dir                               string
	manifests, state, run, logs, sock string
	bridge, cidr, table, cgroupParent string
	cmd                               *exec.Cmd
	out                               *lockedBuffer
}

// newBerthDaemon prepares a daemon whose pod range holds maxPods pods.
func newBerthDaemon(e *env, maxPods int) (*berthDaemon, error) {
	var b [3]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	cidr, err := freeCIDR(maxPods, func() (byte, byte) {
		var r [2]byte
		rand.Read(r[:])
		return r[0], r[1]
	})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return nil, err
	}
	d := &berthDaemon{
		e: e, dir: dir,
		manifests: filepath.Join(dir, "m"), state: filepath.Join(dir, "s"),
		run: filepath.Join(dir, "r"), logs: filepath.Join(dir, "l"),
		sock:   filepath.Join(dir, "r", "berth.sock"),
		bridge: "bb" + suffix, table: "berth_bench_" + suffix,
		cidr:         cidr.String(),
		cgroupParent: "berth-bench-" + suffix,
		out:          &lockedBuffer{},
	}
	if _, err := d.cli("image", "import", "--rootfs", e.rootfs, imageRef); err != nil {
		d.cleanup()
		return nil, fmt.Errorf("import workload into berth: %w", err)
	}
	return d, nil
}

func (d *berthDaemon) args(extra ...string) []string {
	return append([]string{
		"--manifests", d.manifests, "--state-dir", d.state, "--run-dir", d.run,
		"--log-dir", d.logs, "--socket", d.sock,
	}, extra...)
}

// start runs the daemon with the restart back-off at its minimum, so the
// restart scenario measures the runtime rather than a policy delay.
func (d *berthDaemon) start() error {
	cmd := exec.Command(d.e.berthBin, d.args("daemon", "--bridge", d.bridge, "--cidr", d.cidr,
		"--nft-table", d.table, "--cgroup-parent", d.cgroupParent,
		"--backoff-initial", "1ms", "--backoff-max", "1ms")...)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start berth daemon: %w", err)
	}
	d.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		if _, err := d.client().Pods(context.Background()); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("berth daemon did not serve its socket within 30s:\n%s", d.out.String())
		}
		time.Sleep(wait)
	}
}

func (d *berthDaemon) client() *api.Client { return api.NewClient(d.sock) }

func (d *berthDaemon) cli(args ...string) (string, error) {
	return run(d.e.berthBin, d.args(args...)...)
}

// timedCLI runs a berth verb against this daemon and returns its wall time.
func (d *berthDaemon) timedCLI(args ...string) (float64, error) {
	ms, err := timed(nil, d.e.berthBin, d.args(args...)...)
	if err != nil {
		return 0, fmt.Errorf("%w\ndaemon log tail:\n%s", err, tail(d.out.String(), 20))
	}
	return ms, nil
}

// timings returns the "pod created" lines logged since the buffer was last
// drained.
func (d *berthDaemon) timings() []podTiming { return d.timingsOf("pod created") }

// timingsOf returns the timing lines with message msg logged since the
// buffer was last drained.
func (d *berthDaemon) timingsOf(msg string) []podTiming {
	var out []podTiming
	sc := bufio.NewScanner(strings.NewReader(d.out.drain()))
	for sc.Scan() {
		if t, ok := parseTiming(sc.Text(), msg); ok {
			out = append(out, t)
		}
	}
	return out
}

// cleanup removes every pod, stops the daemon and removes the host objects
// it made: bridge, nftables table, cgroup parent, mounts and directories.
func (d *berthDaemon) cleanup() {
	if d.cmd != nil {
		ents, _ := os.ReadDir(d.manifests)
		for _, e := range ents {
			os.Remove(filepath.Join(d.manifests, e.Name()))
		}
		c := d.client()
		c.Reconcile(context.Background())
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			ps, err := c.Pods(context.Background())
			if err != nil || len(ps) == 0 {
				break
			}
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
		d.cmd = nil
	}
	hostclean.Remove(hostclean.Daemon{Dir: d.dir, Bridge: d.bridge, Table: d.table, CgroupParent: d.cgroupParent})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lockedBuffer collects a child's output; drain hands over what came so far.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	all bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all.Write(p)
	if b.all.Len() > 1<<20 {
		b.all.Next(b.all.Len() - 1<<19)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) drain() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// String is the recent output (for error reports).
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.all.String()
}
