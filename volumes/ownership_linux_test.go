package volumes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

func lstat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func writeTestFile(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestOwnershipWalkNeverFollowsLinks plants what a hostile container can
// write into an emptyDir: links to a host file and a host directory, a
// FIFO, a setuid file, a deep tree. The walk must own the volume's
// entries and the links themselves, and leave the host's files alone.
func TestOwnershipWalkNeverFollowsLinks(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	host := filepath.Join(base, "host")
	writeTestFile(t, filepath.Join(host, "secret"), 0o600)
	writeTestFile(t, filepath.Join(host, "dir", "inner"), 0o600)
	vol := filepath.Join(base, "vol")
	writeTestFile(t, filepath.Join(vol, "file"), 0o600)
	writeTestFile(t, filepath.Join(vol, "sub", "deeper", "file"), 0o644)
	writeTestFile(t, filepath.Join(vol, "suid"), 0o4755)
	for name, target := range map[string]string{
		"link-to-host-file": filepath.Join(host, "secret"),
		"link-to-host-dir":  filepath.Join(host, "dir"),
		"sub/rel-link":      "../../host/secret",
	} {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(vol, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostBefore := map[string]unix.Stat_t{}
	for _, p := range []string{host, filepath.Join(host, "secret"), filepath.Join(host, "dir"), filepath.Join(host, "dir", "inner")} {
		hostBefore[p] = lstat(t, p)
	}

	if err := (ownership{gid: 2000}).apply(vol); err != nil {
		t.Fatal(err)
	}

	for p, before := range hostBefore {
		after := lstat(t, p)
		if after.Gid != before.Gid || after.Mode != before.Mode || after.Uid != before.Uid {
			t.Errorf("host file %s changed: gid %d mode %#o, was gid %d mode %#o", p, after.Gid, after.Mode, before.Gid, before.Mode)
		}
	}
	want := map[string]uint32{
		"":                  unix.S_IFDIR | 0o2755 | 0o070,
		"file":              unix.S_IFREG | 0o660,
		"sub":               unix.S_IFDIR | 0o2775,
		"sub/deeper":        unix.S_IFDIR | 0o2775,
		"sub/deeper/file":   unix.S_IFREG | 0o664,
		"suid":              unix.S_IFREG | 0o775,
		"fifo":              unix.S_IFIFO | 0o660,
		"link-to-host-file": unix.S_IFLNK | 0o777,
		"link-to-host-dir":  unix.S_IFLNK | 0o777,
		"sub/rel-link":      unix.S_IFLNK | 0o777,
	}
	for rel, mode := range want {
		st := lstat(t, filepath.Join(vol, rel))
		if st.Gid != 2000 {
			t.Errorf("%q: gid %d, want 2000", rel, st.Gid)
		}
		if st.Mode != mode {
			t.Errorf("%q: mode %#o, want %#o", rel, st.Mode, mode)
		}
		if st.Uid != 0 {
			t.Errorf("%q: owner changed to %d", rel, st.Uid)
		}
	}
}

func TestOwnershipRootIsNotALink(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	target := filepath.Join(base, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "vol")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := (ownership{gid: 2000}).apply(link); err == nil {
		t.Fatal("apply through a symlinked root succeeded")
	}
	if st := lstat(t, target); st.Gid == 2000 {
		t.Error("the link's target was chowned")
	}
}

func TestOwnershipOnRootMismatch(t *testing.T) {
	needRoot(t)
	vol := t.TempDir()
	inner := filepath.Join(vol, "inner")
	writeTestFile(t, inner, 0o600)

	// The root already matches: OnRootMismatch leaves the tree alone.
	if err := os.Chown(vol, -1, 2000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(vol, 0o777|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if err := (ownership{gid: 2000, onRootMismatch: true}).apply(vol); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, inner); st.Gid == 2000 || st.Mode&0o777 != 0o600 {
		t.Errorf("OnRootMismatch with a matching root walked: inner gid %d mode %#o", st.Gid, st.Mode)
	}
	// Always (the default) walks.
	if err := (ownership{gid: 2000}).apply(vol); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, inner); st.Gid != 2000 || st.Mode&0o777 != 0o660 {
		t.Errorf("Always did not walk: inner gid %d mode %#o", st.Gid, st.Mode)
	}
	// A root without setgid is a mismatch: OnRootMismatch walks.
	writeTestFile(t, filepath.Join(vol, "later"), 0o600)
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := (ownership{gid: 2000, onRootMismatch: true}).apply(vol); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(vol, "later")); st.Gid != 2000 {
		t.Errorf("OnRootMismatch with a mismatching root did not walk: gid %d", st.Gid)
	}
}

// TestOwnershipWalkHoldsOneFdPerLevel: a container can nest directories
// up to the walk's depth bound, and each level the walk goes down holds
// its fds until it comes back up. Under an open-file limit with room for
// one fd per level (and a few more), a deep tree is walked whole.
func TestOwnershipWalkHoldsOneFdPerLevel(t *testing.T) {
	needRoot(t)
	const depth = 300
	vol := t.TempDir()
	deepest := vol + strings.Repeat("/d", depth)
	writeTestFile(t, filepath.Join(deepest, "file"), 0o600)

	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
	lowered := old
	lowered.Cur = uint64(len(open) + depth + 32)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	walkErr := (ownership{gid: 2000}).apply(vol)
	unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	if walkErr != nil {
		t.Fatalf("walk of %d levels under a limit of %d open files: %v", depth, lowered.Cur, walkErr)
	}
	if st := lstat(t, filepath.Join(deepest, "file")); st.Gid != 2000 {
		t.Errorf("the deepest file has gid %d, want 2000", st.Gid)
	}
}

// TestPrepareFSGroup: emptyDir, configMap and secret volumes get the
// group, a hostPath does not.
func TestPrepareFSGroup(t *testing.T) {
	needRoot(t)
	podDir := newPodDir(t)
	hostDir := t.TempDir()
	writeTestFile(t, filepath.Join(hostDir, "f"), 0o600)
	fsGroup := int64(2000)
	mode := int32(0o400)
	pod := &manifests.Pod{
		ObjectMeta: manifests.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: manifests.PodSpec{
			SecurityContext: &manifests.PodSecurityContext{FSGroup: &fsGroup},
			Volumes: []manifests.Volume{
				{Name: "scratch", EmptyDir: &manifests.EmptyDirVolumeSource{}},
				{Name: "cfg", ConfigMap: &manifests.ConfigMapVolumeSource{Name: "cm", DefaultMode: &mode}},
				{Name: "sec", Secret: &manifests.SecretVolumeSource{SecretName: "s"}},
				{Name: "host", HostPath: &manifests.HostPathVolumeSource{Path: hostDir}},
			},
		},
	}
	cms := map[string]*manifests.ConfigMap{"cm": {Data: map[string]string{"k": "v"}}}
	secrets := map[string]*manifests.Secret{"s": {Data: map[string][]byte{"pw": []byte("x")}}}
	set, err := Prepare(podDir, pod, cms, secrets, "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(path string, mode uint32) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		if st.Gid != 2000 || st.Mode&0o7777 != mode {
			t.Errorf("%s: gid %d mode %#o, want gid 2000 mode %#o", path, st.Gid, st.Mode&0o7777, mode)
		}
	}
	check(set["scratch"].Path, 0o2777)
	check(set["cfg"].Path, 0o2755)
	check(filepath.Join(set["cfg"].Path, "k"), 0o440)
	check(filepath.Join(set["sec"].Path, "pw"), 0o644)
	if st := lstat(t, filepath.Join(hostDir, "f")); st.Gid == 2000 {
		t.Error("fsGroup was applied to a hostPath volume")
	}
	if st := lstat(t, hostDir); st.Gid == 2000 {
		t.Error("fsGroup was applied to a hostPath volume's root")
	}

	// An update rewrites the configMap and keeps the group.
	cms["cm"] = &manifests.ConfigMap{Data: map[string]string{"k": "v2"}}
	if err := Update(Projected(podDir, pod), pod, cms, secrets, "", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	check(filepath.Join(set["cfg"].Path, "k"), 0o440)
	if b, err := os.ReadFile(filepath.Join(set["cfg"].Path, "k")); err != nil || string(b) != "v2" {
		t.Errorf("after update: %q, %v", b, err)
	}
}
