package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

// testRootfs is a container rootfs built for one test: one lower layer
// (the shared workload rootfs), and empty upper/work/mount dirs.
type testRootfs struct {
	lower, upper, work, rootfs string
}

// randSuffix makes names unique to a test run.
func randSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newRootfs uses the shared workload rootfs (/bin/demo, /etc/passwd with
// app 1000:1000, and the /proc, /dev, /sys mount points a real image has)
// as the single lower layer.
func newRootfs(t *testing.T) testRootfs {
	t.Helper()
	dir := t.TempDir()
	r := testRootfs{
		lower:  testutil.WorkloadRootfs(t),
		upper:  filepath.Join(dir, "upper"),
		work:   filepath.Join(dir, "work"),
		rootfs: filepath.Join(dir, "rootfs"),
	}
	for _, d := range []string{r.upper, r.work, r.rootfs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// config is the Config of a default, unprivileged container on r.
func (r testRootfs) config(args ...string) Config {
	return Config{
		ID:            "test/demo",
		LowerDirs:     []string{r.lower},
		UpperDir:      r.upper,
		WorkDir:       r.work,
		RootfsDir:     r.rootfs,
		NoPivot:       ramfsRoot,
		Args:          append([]string{"demo"}, args...),
		Process:       Process{Env: []string{"PATH=/bin"}, Cwd: "/", Capabilities: DefaultCapabilities()},
		MaskedPaths:   DefaultMaskedPaths(),
		ReadonlyPaths: DefaultReadonlyPaths(),
	}
}

// result is what a container run produced.
type result struct {
	pid    int
	out    string
	status unix.WaitStatus
}

// runContainer starts cfg, waits for it (the test process is its parent and
// reaper) and returns its output. Afterwards no mount of the host may be
// on or under the test's directories: every mount lived in the
// container's namespace.
func runContainer(t *testing.T, cfg Config, opt StartOptions) result {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	opt.Stdout, opt.Stderr = out, out
	pid, err := Start(cfg, opt)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait4 %d: %v", pid, err)
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	assertNoHostMounts(t, cfg)
	return result{pid: pid, out: string(b), status: ws}
}

// mustRun is runContainer for a command that must exit 0.
func mustRun(t *testing.T, cfg Config) string {
	t.Helper()
	r := runContainer(t, cfg, StartOptions{})
	if !r.status.Exited() || r.status.ExitStatus() != 0 {
		t.Fatalf("%q: status %v, output:\n%s", cfg.Args, r.status, r.out)
	}
	return r.out
}

// mustFail is runContainer for a command that must fail (demo exits 2).
func mustFail(t *testing.T, cfg Config) string {
	t.Helper()
	r := runContainer(t, cfg, StartOptions{})
	if !r.status.Exited() || r.status.ExitStatus() != 2 {
		t.Fatalf("%q: status %v, want exit 2; output:\n%s", cfg.Args, r.status, r.out)
	}
	return r.out
}

// running starts `demo sleep` in cfg and returns its pid; the test looks
// at the container's filesystem through /proc/PID/root. The process is
// killed and reaped at cleanup.
func running(t *testing.T, cfg Config, opt StartOptions) int {
	t.Helper()
	cfg.Args = []string{"demo", "sleep"}
	pid, err := Start(cfg, opt)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Kill(pid, unix.SIGKILL); err != nil {
			t.Errorf("kill %d: %v", pid, err)
		}
		if _, err := unix.Wait4(pid, nil, 0, nil); err != nil {
			t.Errorf("wait4 %d: %v", pid, err)
		}
	})
	return pid
}

// ls lists a directory as one sorted, space-separated string.
func ls(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return strings.Join(names, " ")
}

// assertNoHostMounts fails if the host (this test process's mount
// namespace) has a mount point under any directory cfg uses. Other tests
// on the machine mount elsewhere, so the whole table is not compared.
func assertNoHostMounts(t *testing.T, cfg Config) {
	t.Helper()
	dirs := append([]string{filepath.Dir(cfg.RootfsDir)}, cfg.LowerDirs...)
	for _, m := range cfg.Mounts {
		dirs = append(dirs, m.Source)
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		for _, d := range dirs {
			if fields[4] == d || strings.HasPrefix(fields[4], d+"/") {
				t.Errorf("host has a mount under %s: %s", d, line)
			}
		}
	}
}

func TestRootfsAndSystemMounts(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)

	// Own pid namespace, and /proc shows it: the workload is PID 1, alone.
	if got := strings.TrimSpace(mustRun(t, r.config("ps"))); got != "1 demo" {
		t.Errorf("ps = %q, want only \"1 demo\"", got)
	}
	if out := mustFail(t, r.config("write", "/sys/kernel/uevent_helper", "x")); !strings.Contains(out, "read-only file system") {
		t.Errorf("write to /sys: %q, want read-only file system", out)
	}

	pid := running(t, r.config(), StartOptions{})
	root := "/proc/" + strconv.Itoa(pid) + "/root"
	want := "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero"
	if got := ls(t, root+"/dev"); got != want {
		t.Errorf("/dev = %q, want %q", got, want)
	}
	if got := ls(t, root+"/"); !strings.Contains(got, "bin") || strings.Contains(got, "upper") {
		t.Errorf("root = %q, want the image", got)
	}
	var st unix.Stat_t
	if err := unix.Stat(root+"/dev/null", &st); err != nil || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("/dev/null: rdev %#x, %v", st.Rdev, err)
	}
}

func TestOverlayUpperReceivesWrites(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	mustRun(t, r.config("write", "/etc/passwd", "changed"))
	mustRun(t, r.config("write", "/new", "hello"))

	if b, err := os.ReadFile(r.upper + "/new"); err != nil || string(b) != "hello" {
		t.Errorf("upper/new = %q, %v; want hello", b, err)
	}
	if b, _ := os.ReadFile(r.upper + "/etc/passwd"); string(b) != "changed" {
		t.Errorf("upper/etc/passwd = %q, want the copy-up", b)
	}
	if b, _ := os.ReadFile(r.lower + "/etc/passwd"); !strings.HasPrefix(string(b), "root:x:0:0") {
		t.Errorf("lower layer changed: %q", b)
	}
	if _, err := os.Stat(r.lower + "/new"); !os.IsNotExist(err) {
		t.Errorf("lower/new exists (%v)", err)
	}
	if entries, _ := os.ReadDir(r.rootfs); len(entries) != 0 {
		t.Errorf("rootfs dir on the host is not empty: %v", entries)
	}
}

func TestReadOnlyBindAndRootfsBind(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	vol := t.TempDir()
	writeFile(t, vol+"/data.txt", "volume")

	cfg := r.config("read", "/data/data.txt")
	cfg.Mounts = []Mount{{Source: vol, Target: "/data", Type: "bind", Options: []string{"rbind", "rprivate", "ro"}}}
	if got := mustRun(t, cfg); strings.TrimSpace(got) != "volume" {
		t.Errorf("read volume = %q", got)
	}
	cfg.Args = []string{"demo", "write", "/data/x", "y"}
	if out := mustFail(t, cfg); !strings.Contains(out, "read-only file system") {
		t.Errorf("write to ro volume: %q", out)
	}

	// A single layer without upper dir is bound read-only.
	ro := r.config("write", "/x", "y")
	ro.UpperDir, ro.WorkDir = "", ""
	if out := mustFail(t, ro); !strings.Contains(out, "read-only file system") {
		t.Errorf("write to read-only bind rootfs: %q", out)
	}
}

func TestSubPathSymlinkStaysInVolume(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	vol := t.TempDir()
	writeFile(t, vol+"/marker", "inside")
	// An attacker-controlled volume points subPaths at the host.
	if err := os.Symlink("/", vol+"/escape"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../etc", vol+"/up"); err != nil {
		t.Fatal(err)
	}

	// "escape" resolves to the volume's own root.
	cfg := r.config()
	cfg.Mounts = []Mount{{Source: vol, Target: "/data", Type: "bind", SubPath: "escape"}}
	pid := running(t, cfg, StartOptions{})
	if got := ls(t, "/proc/"+strconv.Itoa(pid)+"/root/data"); got != "escape marker up" {
		t.Errorf("subPath escape: /data = %q, want the volume's own root", got)
	}

	// "up" resolves to <vol>/etc, which does not exist: refused.
	cfg.Mounts[0].SubPath = "up"
	cfg.Args = []string{"demo", "exit", "0"}
	pid, err := Start(cfg, StartOptions{})
	if err == nil {
		unix.Wait4(pid, nil, 0, nil)
		t.Fatal("subPath up: Start succeeded")
	}
	if !strings.Contains(err.Error(), "open subPath up") {
		t.Errorf("subPath up: %v", err)
	}
	if _, err := os.Stat(vol + "/etc"); err == nil {
		t.Error("subPath up: created the link's missing target")
	}
}

// TestMissingSubPathIsCreated: as the kubelet, a missing subPath is made
// as directories inside the volume, with the mode of the volume's root.
func TestMissingSubPathIsCreated(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	vol := t.TempDir()
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	cfg := r.config()
	cfg.Mounts = []Mount{{Source: vol, Target: "/data", Type: "bind", SubPath: "pods/web-1"}}
	running(t, cfg, StartOptions{})
	for _, dir := range []string{vol + "/pods", vol + "/pods/web-1"} {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o777 {
			t.Errorf("%s: %v, %v; want a directory with mode 0777", dir, fi.Mode(), err)
		}
	}
}

func TestImageSymlinkOutOfRootfsIsContained(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	outside := filepath.Join(t.TempDir(), "host-etc")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(r.lower + "/etc"); err != nil {
		t.Fatal(err)
	}
	// The image's /etc points (absolutely) at a real host directory.
	if err := os.Symlink(outside, r.lower+"/etc"); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "config")
	writeFile(t, src, "cfg")

	cfg := r.config("read", "/etc/config")
	cfg.Mounts = []Mount{{Source: src, Target: "/etc/config", Type: "bind", Options: []string{"bind", "nosuid", "nodev", "noexec"}, File: true}}
	if got := mustRun(t, cfg); strings.TrimSpace(got) != "cfg" {
		t.Errorf("read /etc/config = %q", got)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("the host directory behind the image symlink changed: %v", entries)
	}
	if _, err := os.Stat(r.upper + outside + "/config"); err != nil {
		t.Errorf("target not created inside the rootfs: %v", err)
	}
}

func TestCredentialsAndCapabilities(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	defaults, err := capMask(DefaultCapabilities(), 63)
	if err != nil {
		t.Fatal(err)
	}

	root := mustRun(t, r.config("id"))
	if eff, bnd := parseHex(t, statusField(root, "CapEff")), parseHex(t, statusField(root, "CapBnd")); eff != defaults || bnd != defaults {
		t.Errorf("root: CapEff %#x CapBnd %#x, want %#x", eff, bnd, defaults)
	}
	if inh := parseHex(t, statusField(root, "CapInh")); inh != 0 {
		t.Errorf("root: CapInh %#x, want 0", inh)
	}
	if nnp := statusField(root, "NoNewPrivs"); nnp != "0" {
		t.Errorf("NoNewPrivs = %s without the option", nnp)
	}

	cfg := r.config("id")
	cfg.User = "1000"
	cfg.AdditionalGIDs = []uint32{3000}
	cfg.NoNewPrivileges = true
	user := mustRun(t, cfg)
	if uid := statusField(user, "Uid"); uid != "1000 1000 1000 1000" {
		t.Errorf("Uid = %q", uid)
	}
	if gid := statusField(user, "Gid"); gid != "1000 1000 1000 1000" {
		t.Errorf("Gid = %q", gid)
	}
	// containerd's rule: the primary gid, the image's /etc/group
	// memberships (app is in staff), then the pod's groups.
	if groups := statusField(user, "Groups"); groups != "50 1000 3000" {
		t.Errorf("Groups = %q, want 50 1000 3000 (the kernel sorts them)", groups)
	}
	if eff, prm := parseHex(t, statusField(user, "CapEff")), parseHex(t, statusField(user, "CapPrm")); eff != 0 || prm != 0 {
		t.Errorf("uid 1000: CapEff %#x CapPrm %#x, want 0", eff, prm)
	}
	if bnd := parseHex(t, statusField(user, "CapBnd")); bnd != defaults {
		t.Errorf("uid 1000: CapBnd %#x, want %#x", bnd, defaults)
	}
	if nnp := statusField(user, "NoNewPrivs"); nnp != "1" {
		t.Errorf("NoNewPrivs = %s, want 1", nnp)
	}

	cfg.User = "app:nogroup"
	if gid := statusField(mustRun(t, cfg), "Gid"); gid != "65534 65534 65534 65534" {
		t.Errorf("app:nogroup: Gid = %q", gid)
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	for _, p := range []string{"/proc/keys", "/proc/timer_list", "/proc/kcore"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if got := mustRun(t, r.config("read", p)); got != "" {
			t.Errorf("%s not masked: %d bytes", p, len(got))
		}
	}
	if out := mustFail(t, r.config("write", "/proc/sys/kernel/hostname", "x")); !strings.Contains(out, "read-only file system") {
		t.Errorf("write to /proc/sys: %q", out)
	}
	if _, err := os.Stat("/proc/sysrq-trigger"); err == nil {
		if out := mustFail(t, r.config("write", "/proc/sysrq-trigger", "h")); !strings.Contains(out, "read-only file system") {
			t.Errorf("write to /proc/sysrq-trigger: %q", out)
		}
	}

	pid := running(t, r.config(), StartOptions{})
	if got := ls(t, "/proc/"+strconv.Itoa(pid)+"/root/sys/firmware"); got != "" {
		t.Errorf("/sys/firmware not masked: %q", got)
	}

	// Privileged: nothing masked, /sys writable, the host's devices.
	priv := r.config()
	priv.Privileged = true
	ppid := running(t, priv, StartOptions{})
	proot := "/proc/" + strconv.Itoa(ppid) + "/root"
	if got := ls(t, proot+"/sys/firmware"); got == "" {
		t.Error("privileged: /sys/firmware is masked")
	}
	if !strings.Contains(ls(t, proot+"/dev"), "vda") && strings.Contains(ls(t, "/dev"), "vda") {
		t.Error("privileged: /dev is not the host's")
	}
}

func TestReadOnlyRootfsAndCwd(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	cfg := r.config("write", "/x", "y")
	cfg.ReadOnlyRootfs = true
	if out := mustFail(t, cfg); !strings.Contains(out, "read-only file system") {
		t.Errorf("write to read-only rootfs: %q", out)
	}

	// A missing working directory is created in-root; relative paths
	// start there.
	cfg = r.config("write", "rel.txt", "here")
	cfg.Cwd = "/work/dir"
	mustRun(t, cfg)
	if b, err := os.ReadFile(r.upper + "/work/dir/rel.txt"); err != nil || string(b) != "here" {
		t.Errorf("upper/work/dir/rel.txt = %q, %v", b, err)
	}
}

func TestStartReturnsInitError(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	tests := []struct {
		name    string
		mutate  func(*Config)
		errText string
	}{
		{"missing binary", func(c *Config) { c.Args = []string{"nope"} }, `exec: "nope": executable file not found in $PATH`},
		{"runAsNonRoot", func(c *Config) { c.RunAsNonRoot = true }, "container has runAsNonRoot and image will run as root"},
		{"unknown user", func(c *Config) { c.User = "ghost" }, "unable to find user ghost"},
		{"bad config", func(c *Config) { c.Env = []string{"NOEQUALS"} }, "validate config"},
		{"missing layer", func(c *Config) { c.LowerDirs = []string{"/nonexistent-" + randSuffix(t)} }, "mount rootfs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := r.config("exit", "0")
			tt.mutate(&cfg)
			pid, err := Start(cfg, StartOptions{})
			if err == nil {
				unix.Wait4(pid, nil, 0, nil)
				t.Fatalf("Start succeeded, want %q", tt.errText)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("Start error %q, want it to contain %q", err, tt.errText)
			}
			var ie *InitError
			if !errors.As(err, &ie) {
				t.Errorf("error %v is not an *InitError", err)
			}
			// The failed child was reaped by Start.
			if _, werr := unix.Wait4(-1, nil, unix.WNOHANG, nil); !errors.Is(werr, unix.ECHILD) {
				t.Errorf("wait4 after failed Start: %v, want ECHILD", werr)
			}
			assertNoHostMounts(t, cfg)
		})
	}
}

func TestOverlayManyLayers(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	parent := filepath.Join(t.TempDir(), "layers")
	var lowers []string
	for i := range 45 {
		dir := filepath.Join(parent, fmt.Sprintf("%02d-%s", i, strings.Repeat("x", 61)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, fmt.Sprintf("layer-%02d", i)), strconv.Itoa(i))
		lowers = append(lowers, dir)
	}
	cfg := r.config("read", "/layer-20")
	cfg.LowerDirs = append(lowers, r.lower)
	if data := overlayData(cfg.LowerDirs, cfg.UpperDir, cfg.WorkDir); len(data) <= maxMountData {
		t.Fatalf("options are only %d bytes; the test needs more than a page", len(data))
	}
	if got := mustRun(t, cfg); strings.TrimSpace(got) != "20" {
		t.Errorf("read /layer-20 = %q", got)
	}
}

func TestHostnameHomeAndSharedPID(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	cfg := r.config("hostname")
	cfg.Hostname = "c-" + randSuffix(t)
	if got := strings.TrimSpace(mustRun(t, cfg)); got != cfg.Hostname {
		t.Errorf("hostname = %q, want %q", got, cfg.Hostname)
	}
	if now, _ := os.Hostname(); now != host {
		t.Fatalf("the host's hostname changed from %q to %q", host, now)
	}

	cfg = r.config("env")
	cfg.User = "app"
	if got := mustRun(t, cfg); !strings.Contains(got, "HOME=/home/app\n") {
		t.Errorf("env of app = %q, want HOME=/home/app", got)
	}

	// Sharing the caller's pid namespace: the caller's processes are
	// visible and the workload is not PID 1.
	res := runContainer(t, r.config("ps"), StartOptions{SharePID: true})
	if !res.status.Exited() || res.status.ExitStatus() != 0 {
		t.Fatalf("ps: %v: %s", res.status, res.out)
	}
	if !strings.Contains(res.out, fmt.Sprintf("%d ", os.Getpid())) || strings.HasPrefix(res.out, "1 demo") {
		t.Errorf("ps with a shared pid namespace = %q", res.out)
	}
}

// testCgroup creates a cgroup under a hierarchy mounted at mnt and removes
// it at cleanup (registered first, so it runs after the process is reaped).
func testCgroup(t *testing.T, mnt string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(mnt, "cgroup.procs")); err != nil {
		t.Skipf("no cgroup hierarchy at %s", mnt)
	}
	dir := filepath.Join(mnt, "berth-test-"+randSuffix(t))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove cgroup %s: %v", dir, err)
		}
	})
	return dir
}

func TestStartsInsideCgroup(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	t.Run("v2 clone into cgroup", func(t *testing.T) {
		mnt := "/sys/fs/cgroup/unified"
		if _, err := os.Stat(mnt + "/cgroup.procs"); err != nil {
			mnt = "/sys/fs/cgroup"
		}
		var st unix.Statfs_t
		if err := unix.Statfs(mnt, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("no cgroup2 mount")
		}
		dir := testCgroup(t, mnt)
		pid := running(t, r.config(), StartOptions{CgroupDir: dir})
		want := "0::/" + filepath.Base(dir)
		if got := readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid)); !strings.Contains(got, want+"\n") {
			t.Errorf("/proc/%d/cgroup = %q, want a line %q", pid, got, want)
		}
	})
	t.Run("v1 join before exec", func(t *testing.T) {
		dir := testCgroup(t, "/sys/fs/cgroup/pids")
		cfg := r.config()
		cfg.CgroupProcs = []string{filepath.Join(dir, "cgroup.procs")}
		pid := running(t, cfg, StartOptions{})
		want := "pids:/" + filepath.Base(dir)
		if got := readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid)); !strings.Contains(got, want+"\n") {
			t.Errorf("/proc/%d/cgroup = %q, want a line ending %q", pid, got, want)
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImageDeviceNodeNodev checks that a device node in an image layer
// cannot be opened: the rootfs is mounted nodev unless the container is
// privileged. The node has /dev/null's numbers, so only the mount flag can
// refuse it (the test runs no device cgroup).
func TestImageDeviceNodeNodev(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	layer := t.TempDir()
	if err := unix.Mknod(filepath.Join(layer, "imgnull"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	cfg := r.config("open", "/imgnull", "rw")
	cfg.LowerDirs = []string{layer, r.lower}
	if out := mustFail(t, cfg); !strings.Contains(out, "permission denied") {
		t.Errorf("open of an image's device node: %q, want permission denied", out)
	}
	cfg.Args = []string{"demo", "open", "/dev/null", "rw"}
	if out := mustRun(t, cfg); !strings.Contains(out, "opened /dev/null") {
		t.Errorf("open /dev/null: %q", out)
	}
	cfg.Args = []string{"demo", "open", "/imgnull", "rw"}
	cfg.Privileged, cfg.Capabilities = true, AllCapabilities()
	if out := mustRun(t, cfg); !strings.Contains(out, "opened /imgnull") {
		t.Errorf("privileged open of an image's device node: %q", out)
	}
}

// TestRecursiveBindNodev checks that a recursive bind with nodev (every
// volume of a container that is not privileged) makes the mounts the
// source has below it nodev too, not only the top one.
func TestRecursiveBindNodev(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	src := t.TempDir()
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(sub, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", sub, err)
		}
	})
	cfg := r.config()
	cfg.Mounts = []Mount{{Source: src, Target: "/vol", Type: "bind", Options: []string{"rbind", "rprivate", "nodev"}}}
	pid := running(t, cfg, StartOptions{})
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || (f[4] != "/vol" && f[4] != "/vol/sub") {
			continue
		}
		seen[f[4]] = true
		if !slices.Contains(strings.Split(f[5], ","), "nodev") {
			t.Errorf("%s mounted %s, want nodev", f[4], f[5])
		}
	}
	if !seen["/vol"] || !seen["/vol/sub"] {
		t.Errorf("mounts /vol and /vol/sub not both found in:\n%s", b)
	}
}

// Image files the init stage would act on, shaped to block it or to move
// a system mount, fail the start with the reason, at once.
func TestHostileImageFailsTheInit(t *testing.T) {
	testutil.RequireRoot(t)
	tests := []struct {
		name    string
		mutate  func(t *testing.T, lower string)
		errText string
		create  bool
	}{
		{"fifo passwd", func(t *testing.T, lower string) {
			if err := os.Remove(lower + "/etc/passwd"); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(lower+"/etc/passwd", 0o644); err != nil {
				t.Fatal(err)
			}
		}, "/etc/passwd is not a regular file but a FIFO", true},
		{"symlinked /proc", func(t *testing.T, lower string) {
			if err := os.RemoveAll(lower + "/proc"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/tmp", lower+"/proc"); err != nil {
				t.Fatal(err)
			}
		}, "not a plain directory", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRootfs(t)
			tt.mutate(t, r.lower)
			cfg := r.config("exit", "0")
			pid, err := Start(cfg, StartOptions{Timeout: 10 * time.Second})
			if err == nil {
				unix.Wait4(pid, nil, 0, nil)
				t.Fatalf("Start succeeded, want %q", tt.errText)
			}
			if !strings.Contains(err.Error(), tt.errText) || IsCreateError(err) != tt.create {
				t.Errorf("Start error %q (create error: %v), want %q (%v)", err, IsCreateError(err), tt.errText, tt.create)
			}
			assertNoHostMounts(t, cfg)
		})
	}
}

// TestSharedVolumeIsBidirectional: a privileged container's rshared bind
// of a shared host mount (Bidirectional) is a peer of it: a tmpfs the
// container mounts below it appears on the host, and one the host mounts
// later appears in the container.
func TestSharedVolumeIsBidirectional(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	vol := filepath.Join(t.TempDir(), "shared")
	for _, dir := range []string{vol + "/from-ctr", vol + "/from-host"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount(vol, vol, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(vol, unix.MNT_DETACH) })
	if err := unix.Mount("", vol, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	cfg := r.config("--then-sleep", "overmount", "/vol/from-ctr", "f", "from the container")
	cfg.Privileged, cfg.Capabilities = true, AllCapabilities()
	cfg.Mounts = []Mount{{Source: vol, Target: "/vol", Type: "bind", Options: []string{"rbind", "rshared"}}}
	pid, err := Start(cfg, StartOptions{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		unix.Kill(pid, unix.SIGKILL)
		unix.Wait4(pid, nil, 0, nil)
		unix.Unmount(vol+"/from-ctr", unix.MNT_DETACH)
		unix.Unmount(vol+"/from-host", unix.MNT_DETACH)
	})
	testutil.WaitFor(t, 10*time.Second, "the container's tmpfs on the host", func() bool {
		b, _ := os.ReadFile(vol + "/from-ctr/f")
		return string(b) == "from the container\n"
	})
	if err := unix.Mount("berth-test", vol+"/from-host", "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vol+"/from-host/f", []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the host's tmpfs in the container", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/vol/from-host/f", pid))
		return string(b) == "from the host"
	})
}

// A container with a terminal gets one of its own /dev/pts as stdin,
// stdout, stderr and controlling terminal, as root and as a user; Start
// hands back the master, which carries its output.
func TestTerminal(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	for _, user := range []string{"", "app"} {
		cfg := r.config("tty")
		cfg.User = user
		cfg.Terminal = true
		var term Terminal
		pid, err := Start(cfg, StartOptions{Terminal: &term})
		if err != nil {
			t.Fatalf("user %q: Start: %v", user, err)
		}
		if term.Master == nil {
			unix.Kill(pid, unix.SIGKILL)
			unix.Wait4(pid, nil, 0, nil)
			t.Fatalf("user %q: no terminal handed back", user)
		}
		out := make(chan string, 1)
		go func() {
			// EIO ends the output once the container's side closed.
			b, _ := io.ReadAll(term.Master)
			out <- string(b)
		}()
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
			t.Fatal(err)
		}
		got := <-out
		term.Master.Close()
		if !ws.Exited() || ws.ExitStatus() != 0 || !strings.Contains(got, "tty: yes /dev/pts/0") {
			t.Errorf("user %q: status %v, output %q; want the container's /dev/pts/0", user, ws, got)
		}
		assertNoHostMounts(t, cfg)
	}
}
