// Package e2e drives the real berth binary: a daemon on temporary
// directories with its own bridge, CIDR, nftables table and cgroup parent,
// manifests dropped into its directory, and assertions on processes,
// namespaces, cgroups, the network, logs, and a clean host afterwards.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/hostclean"
	"github.com/berth-project/berth/internal/testutil"
)

// berthBin is the binary under test: $BERTH_TEST_BINARY, or built once.
var berthBin string

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		bin, cleanup, err := binary()
		if err != nil {
			fmt.Fprintln(os.Stderr, "build berth:", err)
			os.Exit(1)
		}
		berthBin = bin
		code := testutil.RunTests(m)
		cleanup()
		os.Exit(code)
	}
	os.Exit(testutil.RunTests(m))
}

func binary() (string, func(), error) {
	if p := os.Getenv("BERTH_TEST_BINARY"); p != "" {
		return p, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		return "", nil, err
	}
	_, self, _, _ := runtime.Caller(0)
	out := filepath.Join(dir, "berth")
	// hack/build makes berth as every real build is made: the lean CLI, with
	// the full build and its lean init binary embedded.
	cmd := exec.Command("bash", "hack/build", out, "-trimpath")
	cmd.Dir = filepath.Join(filepath.Dir(self), "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("%w\n%s", err, b)
	}
	return out, func() { os.RemoveAll(dir) }, nil
}

// daemon is one berth daemon under test.
type daemon struct {
	t                                 *testing.T
	dir                               string
	manifests, state, run, logs, sock string
	bridge, cidr, table, cgroupParent string
	cmd                               *exec.Cmd
	logBuf                            *syncBuffer
	image                             string
	// daemonArgs are extra flags for `berth daemon` (set by a startDaemon opt).
	daemonArgs []string
	// bin is the binary `berth daemon` runs from; empty: the one under test.
	bin string
}

// startDaemon starts a daemon with names unique to the test; everything it
// made is removed and checked gone in t.Cleanup. Each opt may change the
// daemon's settings (e.g. its CIDR) before it starts.
func startDaemon(t *testing.T, opts ...func(*daemon)) *daemon {
	t.Helper()
	testutil.RequireRoot(t)
	dir, err := os.MkdirTemp("", "be2e")
	if err != nil {
		t.Fatal(err)
	}
	suffix := randHex(3)
	d := &daemon{
		t: t, dir: dir,
		manifests: filepath.Join(dir, "m"), state: filepath.Join(dir, "s"),
		run: filepath.Join(dir, "r"), logs: filepath.Join(dir, "l"),
		sock:   filepath.Join(dir, "r", "berth.sock"),
		bridge: "bt" + suffix, table: "berth_e2e_" + suffix,
		cidr:         fmt.Sprintf("10.%d.%d.0/24", 200+int(suffix[0])%50, int(suffix[1])),
		cgroupParent: "berth-e2e-" + suffix,
		image:        testutil.DefaultRef,
	}
	for _, opt := range opts {
		opt(d)
	}
	t.Cleanup(d.cleanup)
	testutil.WorkloadImage(t, filepath.Join(d.state, "images"), d.image)
	d.start()
	return d
}

func (d *daemon) args(extra ...string) []string {
	return append([]string{
		"--manifests", d.manifests, "--state-dir", d.state, "--run-dir", d.run,
		"--log-dir", d.logs, "--socket", d.sock,
	}, extra...)
}

func (d *daemon) start() {
	d.t.Helper()
	d.logBuf = &syncBuffer{}
	args := append([]string{"daemon", "--bridge", d.bridge, "--cidr", d.cidr,
		"--nft-table", d.table, "--cgroup-parent", d.cgroupParent, "--debounce", "20ms",
		"--backoff-initial", "200ms", "--backoff-max", "1s", "--log-level", "debug"}, d.daemonArgs...)
	bin := berthBin
	if d.bin != "" {
		bin = d.bin
	}
	cmd := exec.Command(bin, d.args(args...)...)
	cmd.Stdout, cmd.Stderr = d.logBuf, d.logBuf
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.cmd = cmd
	testutil.WaitFor(d.t, 30*time.Second, "daemon socket", func() bool {
		_, err := api.NewClient(d.sock).Pods(context.Background())
		return err == nil
	})
}

// stop ends the daemon with sig (SIGTERM or SIGKILL) and waits for it.
func (d *daemon) stop(sig syscall.Signal) {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	d.cmd.Wait()
	d.cmd = nil
}

// berth runs the CLI against this daemon.
func (d *daemon) berth(args ...string) (string, error) {
	cmd := exec.Command(berthBin, d.args(args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (d *daemon) mustBerth(args ...string) string {
	d.t.Helper()
	out, err := d.berth(args...)
	if err != nil {
		d.t.Fatalf("berth %s: %v\n%s\ndaemon log:\n%s", strings.Join(args, " "), err, out, d.logBuf.String())
	}
	return out
}

// apply writes a manifest through `berth apply` and waits for it (for
// a pod with a readiness probe, until it is Ready).
func (d *daemon) apply(name, yaml string) {
	d.t.Helper()
	d.mustBerth("apply", "-f", d.file(name, yaml), "--timeout", "60s")
}

// applyNoWait writes a manifest through `berth apply --wait=false`: for a
// pod the test keeps from being Ready.
func (d *daemon) applyNoWait(name, yaml string) {
	d.t.Helper()
	d.mustBerth("apply", "-f", d.file(name, yaml), "--wait=false")
}

// file writes yaml to the test's directory as name and returns its path.
func (d *daemon) file(name, yaml string) string {
	d.t.Helper()
	p := filepath.Join(d.dir, name)
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return p
}

func (d *daemon) pod(name string) api.Pod {
	d.t.Helper()
	p, err := api.NewClient(d.sock).Pod(context.Background(), "default", name)
	if err != nil {
		d.t.Fatalf("get pod %s: %v\ndaemon log:\n%s", name, err, d.logBuf.String())
	}
	return p
}

func (d *daemon) pods() []api.Pod {
	d.t.Helper()
	ps, err := api.NewClient(d.sock).Pods(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	return ps
}

// cleanup removes every pod, stops the daemon, removes the host objects
// the daemon made (bridge, nftables table, cgroup parent) and the dirs.
func (d *daemon) cleanup() {
	t := d.t
	if d.cmd != nil {
		ents, _ := os.ReadDir(d.manifests)
		for _, e := range ents {
			os.Remove(filepath.Join(d.manifests, e.Name()))
		}
		api.NewClient(d.sock).Reconcile(context.Background())
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			ps, err := api.NewClient(d.sock).Pods(context.Background())
			if err != nil || len(ps) == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		d.stop(syscall.SIGTERM)
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", d.logBuf.String())
	}
	leftovers := d.hostLeftovers()
	hostclean.Remove(hostclean.Daemon{Dir: d.dir, Bridge: d.bridge, Table: d.table, CgroupParent: d.cgroupParent})
	for _, l := range leftovers {
		t.Errorf("left behind after all pods were deleted: %s", l)
	}
}

// hostLeftovers lists pod things that must be gone once every pod is:
// veths on the bridge, mounts under the test dir, pod cgroups, state dirs.
func (d *daemon) hostLeftovers() []string {
	var out []string
	if br, err := netlink.LinkByName(d.bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				out = append(out, "veth "+l.Attrs().Name)
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, d.dir+"/") {
			out = append(out, "mount "+line)
		}
	}
	for _, cg := range hostclean.CgroupDirs(d.cgroupParent) {
		ents, _ := os.ReadDir(cg)
		for _, e := range ents {
			if e.IsDir() {
				out = append(out, "cgroup "+filepath.Join(cg, e.Name()))
			}
		}
	}
	pods, _ := os.ReadDir(filepath.Join(d.state, "pods"))
	for _, e := range pods {
		out = append(out, "state dir "+e.Name())
	}
	leases, _ := filepath.Glob(filepath.Join(d.state, "net", "*", "*"))
	for _, l := range leases {
		if b := filepath.Base(l); !strings.HasPrefix(b, ".") && !strings.HasSuffix(b, "lock") && strings.Count(b, ".") == 3 {
			out = append(out, "lease "+l)
		}
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects the daemon's output for failure reports.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func toJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
