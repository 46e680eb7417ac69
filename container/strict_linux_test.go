package container

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

func TestForbiddenResolved(t *testing.T) {
	tests := []struct {
		target, rel string
		want        string // "" when allowed
	}{
		{"/data", "data", ""},
		{"/data", "proc", "inside /proc"},
		{"/data", "proc/sys/kernel", "inside /proc"},
		{"/data", "procfs", ""},
		{"/data", ".", "the container's root"},
		{"/data", "..", "outside the rootfs"},
		{"/data", "../etc", "outside the rootfs"},
		{"/data", "sys/fs/cgroup", ""},
		{"/dev", "dev", ""},
		{"/dev", "tmp/dev", ""},
		{"/dev", "sys", "inside /sys"},
		{"/dev", "sys/kernel", "inside /sys"},
		{"/dev/", "sys", "inside /sys"},
		{"/dev", "proc/self", "inside /proc"},
		{"/dev", ".", "the container's root"},
		{"/dev/shm", "dev/shm", ""},
		{"/dev/pts", "sys/pts", ""},
	}
	for _, tt := range tests {
		err := forbiddenResolved(tt.target, tt.rel)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s -> %s: %v", tt.target, tt.rel, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s -> %s: %v, want %q", tt.target, tt.rel, err, tt.want)
		}
	}
}

// startFails starts cfg, which must fail in the init stage with an error
// containing each of want, and leave no mount on the host.
func startFails(t *testing.T, cfg Config, want ...string) {
	t.Helper()
	pid, err := Start(cfg, StartOptions{})
	if err == nil {
		unix.Wait4(pid, nil, 0, nil)
		t.Fatalf("Start succeeded, want an error containing %q", want)
	}
	var ie *InitError
	if !errors.As(err, &ie) {
		t.Errorf("error %v is not an *InitError", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Start error %q, want it to contain %q", err, w)
		}
	}
	assertNoHostMounts(t, cfg)
}

// replace swaps the lower layer's entry name for what make creates.
func replace(t *testing.T, r testRootfs, name string, make func(p string) error) {
	t.Helper()
	p := filepath.Join(r.lower, name)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := make(p); err != nil {
		t.Fatal(err)
	}
}

func symlinkTo(target string) func(string) error {
	return func(p string) error { return os.Symlink(target, p) }
}

// TestImageProcSysMustBePlainDirs runs images whose /proc or /sys is a
// symlink (into the rootfs, or to a real host directory) or a file: each
// is refused naming the path, and nothing is mounted on the host or in the
// directory the symlink names. A missing one is created.
func TestImageProcSysMustBePlainDirs(t *testing.T) {
	testutil.RequireRoot(t)
	for _, dir := range []string{"proc", "sys"} {
		t.Run(dir+" symlink in rootfs", func(t *testing.T) {
			r := newRootfs(t)
			replace(t, r, dir, symlinkTo("/tmp"))
			startFails(t, r.config("exit", "0"), "mount /"+dir, `the image's /`+dir+` is a symlink to "/tmp", not a plain directory`)
			if got := ls(t, r.lower+"/tmp"); got != "" {
				t.Errorf("/tmp of the image = %q", got)
			}
		})
		t.Run(dir+" symlink to host", func(t *testing.T) {
			r := newRootfs(t)
			host := t.TempDir()
			writeFile(t, host+"/marker", "host")
			replace(t, r, dir, symlinkTo(host))
			startFails(t, r.config("exit", "0"), `the image's /`+dir+` is a symlink to "`+host+`"`)
			if got := ls(t, host); got != "marker" {
				t.Errorf("host dir behind the symlink = %q", got)
			}
		})
		t.Run(dir+" file", func(t *testing.T) {
			r := newRootfs(t)
			replace(t, r, dir, func(p string) error { return os.WriteFile(p, []byte("x"), 0o644) })
			startFails(t, r.config("exit", "0"), `the image's /`+dir+` is a regular file, not a plain directory`)
		})
		t.Run(dir+" missing", func(t *testing.T) {
			r := newRootfs(t)
			replace(t, r, dir, func(string) error { return nil })
			mustRun(t, r.config("exit", "0"))
			if st, err := os.Lstat(filepath.Join(r.upper, dir)); err != nil || !st.IsDir() {
				t.Errorf("/%s not created in the upper dir: %v", dir, err)
			}
		})
	}
}

// TestDevAndTargetsResolvedInRoot follows runc: /dev may be a symlink
// resolved in-root, but no mount may land on the root or in /proc (nor
// /dev's tmpfs on /sys) through the image's symlinks.
func TestDevAndTargetsResolvedInRoot(t *testing.T) {
	testutil.RequireRoot(t)
	t.Run("dev symlink inside", func(t *testing.T) {
		r := newRootfs(t)
		if err := os.Mkdir(r.lower+"/devdir", 0o755); err != nil {
			t.Fatal(err)
		}
		replace(t, r, "dev", symlinkTo("/devdir"))
		pid := running(t, r.config(), StartOptions{})
		if got := ls(t, "/proc/"+strconv.Itoa(pid)+"/root/devdir"); !strings.Contains(got, "null") {
			t.Errorf("/devdir = %q, want the minimal /dev", got)
		}
	})
	for _, tt := range []struct {
		name, link, want string
	}{
		{"dev to root", "/", "to the container's root"},
		{"dev to root relative", "../..", "to the container's root"},
		{"dev to proc", "/proc", "to /proc, inside /proc"},
		{"dev to sys", "/sys/kernel", "to /sys/kernel, inside /sys"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRootfs(t)
			replace(t, r, "dev", symlinkTo(tt.link))
			startFails(t, r.config("exit", "0"), "mount /dev", tt.want)
		})
	}
	t.Run("volume through symlink into proc", func(t *testing.T) {
		r := newRootfs(t)
		replace(t, r, "data", symlinkTo("/proc/sys"))
		cfg := r.config("exit", "0")
		cfg.Mounts = []Mount{{Source: t.TempDir(), Target: "/data", Type: "bind", Options: []string{"rbind"}}}
		startFails(t, cfg, "mount /data", "to /proc/sys, inside /proc")
	})
	t.Run("file volume over dev null", func(t *testing.T) {
		r := newRootfs(t)
		src := filepath.Join(t.TempDir(), "fake-null")
		writeFile(t, src, "secret")
		cfg := r.config("exit", "0")
		cfg.Mounts = []Mount{{Source: src, Target: "/dev/null", Type: "bind", File: true}}
		startFails(t, cfg, "mask paths", "/dev/null is a regular file, not the null device")
	})
}
