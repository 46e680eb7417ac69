package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// newPodDir returns a pod volume dir in a temp dir that is cleaned up (mounts
// included) even when the test fails.
func newPodDir(t *testing.T) string {
	t.Helper()
	podDir := filepath.Join(t.TempDir(), "volumes")
	// Registered after TempDir's removal, so it runs before it.
	t.Cleanup(func() {
		if err := Cleanup(podDir); err != nil {
			t.Errorf("Cleanup(%s): %v", podDir, err)
		}
	})
	return podDir
}

// mountsAt lists the mount points at or below dir.
func mountsAt(t *testing.T, dir string) []string {
	t.Helper()
	points, err := readMountPoints()
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		real = dir
	}
	return mountsUnder(points, real)
}

func statfs(t *testing.T, dir string) unix.Statfs_t {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestMemoryEmptyDir(t *testing.T) {
	needRoot(t)
	podDir := newPodDir(t)
	size := manifests.MustParseQuantity("8Mi")
	pod := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "mem", EmptyDir: &manifests.EmptyDirVolumeSource{Medium: "Memory", SizeLimit: &size}},
		{Name: "memdefault", EmptyDir: &manifests.EmptyDirVolumeSource{Medium: "Memory"}},
		{Name: "disk", EmptyDir: &manifests.EmptyDirVolumeSource{}},
	}}}
	set, err := Prepare(podDir, pod, nil, nil, "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	mem := set["mem"].Path
	st := statfs(t, mem)
	if st.Type != unix.TMPFS_MAGIC || int64(st.Blocks)*st.Bsize != 8<<20 {
		t.Errorf("memory emptyDir: fs type %#x, size %d; want tmpfs of %d", st.Type, int64(st.Blocks)*st.Bsize, 8<<20)
	}
	if st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NODEV == 0 {
		t.Errorf("memory emptyDir flags %#x: want nosuid,nodev", st.Flags)
	}
	if fi, err := os.Stat(mem); err != nil || fi.Mode().Perm() != 0o777 || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("memory emptyDir mode = %v (%v), want 1777", fi.Mode(), err)
	}
	if st := statfs(t, set["memdefault"].Path); st.Type != unix.TMPFS_MAGIC {
		t.Errorf("memory emptyDir without sizeLimit: fs type %#x, want tmpfs", st.Type)
	}
	disk := set["disk"].Path
	if st := statfs(t, disk); st.Type == unix.TMPFS_MAGIC && statfs(t, podDir).Type != unix.TMPFS_MAGIC {
		t.Error("disk emptyDir is a tmpfs")
	}
	if fi, err := os.Stat(disk); err != nil || fi.Mode().Perm() != 0o777 {
		t.Errorf("disk emptyDir mode = %v (%v), want 0777", fi.Mode(), err)
	}

	// A retry does not stack a second tmpfs.
	before := len(mountsAt(t, podDir))
	if _, err := Prepare(podDir, pod, nil, nil, "", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	if after := len(mountsAt(t, podDir)); after != before || before != 2 {
		t.Errorf("mounts: %d after Prepare, %d after a second Prepare; want 2 and 2", before, after)
	}

	if err := Cleanup(podDir); err != nil {
		t.Fatal(err)
	}
	if m := mountsAt(t, podDir); len(m) != 0 {
		t.Errorf("mounts left after Cleanup: %v", m)
	}
	if _, err := os.Lstat(podDir); !os.IsNotExist(err) {
		t.Errorf("podDir after Cleanup: %v, want it gone", err)
	}
	if err := Cleanup(podDir); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
}

func TestSecretVolume(t *testing.T) {
	needRoot(t)
	podDir := newPodDir(t)
	pod := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "tls", Secret: &manifests.SecretVolumeSource{SecretName: "s", DefaultMode: i32(0o400)}},
	}}}
	secrets := func(data map[string][]byte) map[string]*manifests.Secret {
		return map[string]*manifests.Secret{"s": {Data: data}}
	}
	set, err := Prepare(podDir, pod, nil, secrets(map[string][]byte{"key": []byte("k1")}), "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	tls := set["tls"]
	if tls.Kind != KindSecret || !tls.ReadOnly {
		t.Errorf("Prepared = %+v", tls)
	}
	// Projected finds the volume where Prepare put it, without Prepare.
	if got := Projected(podDir, pod); len(got) != 1 || got["tls"] != tls {
		t.Errorf("Projected = %+v, want only %+v", got, tls)
	}
	st := statfs(t, tls.Path)
	if st.Type != unix.TMPFS_MAGIC {
		t.Fatalf("secret volume: fs type %#x, want tmpfs", st.Type)
	}
	if b, err := os.ReadFile(filepath.Join(tls.Path, "key")); err != nil || string(b) != "k1" {
		t.Errorf("key = %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(tls.Path, "key")); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("key mode = %v, %v; want 0400", fi.Mode(), err)
	}

	// An update bigger than the tmpfs grows it first.
	small := int64(st.Blocks) * st.Bsize
	big := make([]byte, 2*small)
	if err := Update(set, pod, nil, secrets(map[string][]byte{"key": big}), "", downward.Node{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(tls.Path, "key")); err != nil || fi.Size() != int64(len(big)) {
		t.Errorf("after update, key = %v, %v; want %d bytes", fi, err, len(big))
	}
	if st := statfs(t, tls.Path); st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NODEV == 0 {
		t.Errorf("secret tmpfs flags after growing %#x: want nosuid,nodev", st.Flags)
	}

	// Secret data is never written to a directory without its tmpfs.
	if err := Cleanup(podDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(tls.Path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Update(set, pod, nil, secrets(map[string][]byte{"key": []byte("k2")}), "", downward.Node{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Update without the tmpfs: error = %v, want ErrInvalid", err)
	}
	if entries, _ := os.ReadDir(tls.Path); len(entries) != 0 {
		t.Errorf("secret written to disk: %v", entries)
	}
}

func TestPrepareHostPathAndErrors(t *testing.T) {
	podDir := newPodDir(t)
	hostFile := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(hostFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	pod := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "f", HostPath: &manifests.HostPathVolumeSource{Path: hostFile, Type: "File"}},
	}}}
	set, err := Prepare(podDir, pod, nil, nil, "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	if got := set["f"]; got.Kind != KindHostPath || !got.File || got.Path != hostFile || got.ReadOnly {
		t.Errorf("Prepared = %+v", got)
	}

	bad := []struct {
		name string
		vols []manifests.Volume
		want error
	}{
		{"no source", []manifests.Volume{{Name: "x"}}, ErrInvalid},
		{"two sources", []manifests.Volume{{Name: "x", EmptyDir: &manifests.EmptyDirVolumeSource{},
			HostPath: &manifests.HostPathVolumeSource{Path: "/tmp"}}}, ErrInvalid},
		{"name with slash", []manifests.Volume{{Name: "../x", EmptyDir: &manifests.EmptyDirVolumeSource{}}}, ErrInvalid},
		{"duplicate name", []manifests.Volume{{Name: "x", EmptyDir: &manifests.EmptyDirVolumeSource{}},
			{Name: "x", EmptyDir: &manifests.EmptyDirVolumeSource{}}}, ErrInvalid},
		{"configMap name with slash", []manifests.Volume{{Name: "x",
			ConfigMap: &manifests.ConfigMapVolumeSource{Name: "a/b"}}}, ErrInvalid},
		{"hostPath type mismatch", []manifests.Volume{{Name: "x",
			HostPath: &manifests.HostPathVolumeSource{Path: hostFile, Type: "Directory"}}}, ErrHostPathType},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare(podDir, &manifests.Pod{Spec: manifests.PodSpec{Volumes: tt.vols}}, nil, nil, "", downward.Node{})
			if !errors.Is(err, tt.want) {
				t.Errorf("Prepare() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCleanupMissingAndBusy(t *testing.T) {
	if err := Cleanup(filepath.Join(t.TempDir(), "never-created")); err != nil {
		t.Errorf("Cleanup of a missing dir: %v", err)
	}
	needRoot(t)
	podDir := newPodDir(t)
	pod := &manifests.Pod{Spec: manifests.PodSpec{Volumes: []manifests.Volume{
		{Name: "mem", EmptyDir: &manifests.EmptyDirVolumeSource{Medium: "Memory"}},
	}}}
	set, err := Prepare(podDir, pod, nil, nil, "", downward.Node{})
	if err != nil {
		t.Fatal(err)
	}
	// An open file keeps the tmpfs busy: Cleanup detaches it.
	f, err := os.Create(filepath.Join(set["mem"].Path, "busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A mount nested below the tmpfs is unmounted first.
	nested := filepath.Join(set["mem"].Path, "nested")
	if err := os.Mkdir(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("berth-test", nested, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(podDir); err != nil {
		t.Fatal(err)
	}
	if m := mountsAt(t, podDir); len(m) != 0 {
		t.Errorf("mounts left after Cleanup: %v", m)
	}
	if _, err := os.Lstat(podDir); !os.IsNotExist(err) {
		t.Errorf("podDir after Cleanup: %v, want it gone", err)
	}
}
