package volumes

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/manifests"
)

func claimPod(ns string, fsGroup *int64, claims ...string) *manifests.Pod {
	p := &manifests.Pod{}
	p.Namespace, p.Name = ns, "web-0"
	for _, c := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, manifests.Volume{Name: "v-" + c,
			PersistentVolumeClaim: &manifests.PersistentVolumeClaimVolumeSource{ClaimName: c}})
	}
	if fsGroup != nil {
		p.Spec.SecurityContext = &manifests.PodSecurityContext{FSGroup: fsGroup}
	}
	return p
}

// TestClaimStorePrepareAndRemove makes two claims' volumes, keeps their data
// across a second Prepare, reports only new ones as created, and removes a
// volume only when nobody uses it.
func TestClaimStorePrepareAndRemove(t *testing.T) {
	s := ClaimStore{Dir: filepath.Join(t.TempDir(), "volumes")}
	decls := map[string]*manifests.PersistentVolumeClaim{"data": {}}
	set, notes, err := s.Prepare(claimPod("default", nil, "data", "logs"), decls)
	if err != nil {
		t.Fatal(err)
	}
	if c := notes.Created; len(c) != 2 || !c[0].Declared || c[1].Declared {
		t.Fatalf("created %+v: want data (declared) and logs (not)", c)
	}
	p := set["v-data"]
	if p.Kind != KindClaim || p.Path != filepath.Join(s.Dir, "default", "data") {
		t.Fatalf("prepared %+v", p)
	}
	if fi, err := os.Stat(p.Path); err != nil || fi.Mode().Perm() != 0o777 {
		t.Fatalf("volume dir: %v %v, want a 0777 directory", fi, err)
	}
	if err := os.WriteFile(filepath.Join(p.Path, "f"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, notes, err = s.Prepare(claimPod("default", nil, "data"), nil); err != nil || len(notes.Created) != 0 {
		t.Fatalf("second Prepare: created %+v, %v", notes.Created, err)
	}
	if b, err := os.ReadFile(filepath.Join(p.Path, "f")); err != nil || string(b) != "kept" {
		t.Fatalf("data after a second Prepare: %q %v", b, err)
	}
	vols, err := s.List("")
	if err != nil || len(vols) != 2 || vols[0].Claim.Name != "data" || vols[1].Claim.Name != "logs" {
		t.Fatalf("List = %+v, %v", vols, err)
	}
	if c := vols[0].Created; !c.IsZero() && time.Since(c) > time.Hour {
		t.Errorf("volume created %v, want about now", c)
	}
	if vols, _ := s.List("other"); len(vols) != 0 {
		t.Errorf("List(other) = %+v", vols)
	}
	k := ClaimKey{"default", "data"}
	inUse := func() ([]string, error) { return []string{"default/web-0"}, nil }
	if err := s.Remove(k, inUse); !errors.Is(err, ErrClaimInUse) {
		t.Fatalf("Remove in use = %v, want ErrClaimInUse", err)
	}
	if err := s.Remove(k, func() ([]string, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Inspect(k); !errors.Is(err, ErrNotFound) {
		t.Errorf("Inspect after Remove = %v, want ErrNotFound", err)
	}
	if err := s.Remove(k, func() ([]string, error) { return nil, nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}

// TestClaimStoreNeverFollowsLinks plants what a hostile container can
// leave in its volume, links out to the host, and what a hostile host user
// cannot (the store is 0700): Remove must delete the links, not their
// targets, and a claim whose directory is a link is refused.
func TestClaimStoreNeverFollowsLinks(t *testing.T) {
	testutil.RequireRoot(t)
	tmp := t.TempDir()
	host := filepath.Join(tmp, "host")
	writeTestFile(t, filepath.Join(host, "precious"), 0o644)
	s := ClaimStore{Dir: filepath.Join(tmp, "volumes")}
	set, _, err := s.Prepare(claimPod("default", nil, "data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	vol := set["v-data"].Path
	for name, target := range map[string]string{"dir": host, "file": filepath.Join(host, "precious"), "up": "../../../host"} {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove(ClaimKey{"default", "data"}, func() ([]string, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host, "precious")); err != nil {
		t.Fatalf("the host's file went with the volume: %v", err)
	}
	if err := os.Symlink(host, filepath.Join(s.Dir, "default", "linked")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Prepare(claimPod("default", nil, "linked"), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Prepare of a linked claim dir = %v, want ErrInvalid", err)
	}
	if err := s.Remove(ClaimKey{"default", "linked"}, func() ([]string, error) { return nil, nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove of a linked claim dir = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(host, "precious")); err != nil {
		t.Fatalf("the host's file: %v", err)
	}
}

// TestClaimFSGroup gives a claim's volume the pod's fsGroup, as the kubelet
// does a persistent volume's, walking what is already in it; with
// OnRootMismatch a right root skips the walk.
func TestClaimFSGroup(t *testing.T) {
	testutil.RequireRoot(t)
	s := ClaimStore{Dir: filepath.Join(t.TempDir(), "volumes")}
	gid := int64(4321)
	set, _, err := s.Prepare(claimPod("default", nil, "data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	vol := set["v-data"].Path
	writeTestFile(t, filepath.Join(vol, "sub", "f"), 0o600)
	if _, _, err := s.Prepare(claimPod("default", &gid, "data"), nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{vol, filepath.Join(vol, "sub"), filepath.Join(vol, "sub", "f")} {
		st := lstat(t, p)
		if st.Gid != uint32(gid) || st.Mode&groupRW != groupRW {
			t.Errorf("%s: gid %d mode %#o, want gid %d group rw", p, st.Gid, st.Mode, gid)
		}
	}
	// OnRootMismatch: the root is right, so a file put back to 0600
	// stays as it is.
	if err := os.Chmod(filepath.Join(vol, "sub", "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := claimPod("default", &gid, "data")
	p.Spec.SecurityContext.FSGroupChangePolicy = "OnRootMismatch"
	if _, _, err := s.Prepare(p, nil); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(vol, "sub", "f")); st.Mode&0o777 != 0o600 {
		t.Errorf("OnRootMismatch walked a right root: mode %#o", st.Mode&0o777)
	}
}

func sizedClaim(size string) *manifests.PersistentVolumeClaim {
	c := &manifests.PersistentVolumeClaim{}
	c.Spec.Resources.Requests = map[string]manifests.Quantity{"storage": manifests.MustParseQuantity(size)}
	return c
}

// TestClaimSize enforces a claim's declared size with a project quota on a
// file system that has them on (an ext4 image mounted with prjquota: a
// write past the size fails with EDQUOT), and reports it as not enforced
// on one that has not.
func TestClaimSize(t *testing.T) {
	testutil.RequireRoot(t)
	decls := map[string]*manifests.PersistentVolumeClaim{"data": sizedClaim("1Mi"), "other": sizedClaim("1Mi")}

	plain := ClaimStore{Dir: filepath.Join(t.TempDir(), "volumes")}
	if !projectQuotaOnDir(t, filepath.Dir(plain.Dir)) {
		_, notes, err := plain.Prepare(claimPod("default", nil, "data"), decls)
		if err != nil {
			t.Fatal(err)
		}
		if want := []ClaimSize{{Claim: ClaimKey{"default", "data"}, Size: "1Mi"}}; !reflect.DeepEqual(notes.Unlimited, want) {
			t.Errorf("without quotas: unlimited %+v, want %+v", notes.Unlimited, want)
		}
	}

	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		t.Skip("mkfs.ext4 not found: the enforced case needs an ext4 image with project quotas")
	}
	tmp := t.TempDir()
	img, mnt := filepath.Join(tmp, "img"), filepath.Join(tmp, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", "-O", "quota,project", "-E", "quotatype=prjquota", img).CombinedOutput(); err != nil {
		t.Skipf("mkfs.ext4 with project quotas: %v\n%s", err, out)
	}
	// mount(8) sets up the loop device with autoclear: unmounting frees it.
	if out, err := exec.Command("mount", "-o", "loop,prjquota", img, mnt).CombinedOutput(); err != nil {
		t.Skipf("mount the ext4 image with prjquota (a kernel without CONFIG_QUOTA cannot): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	s := ClaimStore{Dir: filepath.Join(mnt, "volumes")}
	set, notes, err := s.Prepare(claimPod("default", nil, "data", "other"), decls)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes.Unlimited) != 0 {
		t.Fatalf("with project quotas: unlimited %+v", notes.Unlimited)
	}
	ids := map[uint32]bool{}
	for _, v := range set {
		f, err := os.Open(v.Path)
		if err != nil {
			t.Fatal(err)
		}
		x, err := getProject(f)
		f.Close()
		if err != nil || x.Projid < claimProjectBase || x.Xflags&fsXflagProjinherit == 0 {
			t.Errorf("%s: project %+v, %v", v.Path, x, err)
		}
		ids[x.Projid] = true
	}
	if len(ids) != 2 {
		t.Errorf("project IDs %v: want one per claim", ids)
	}
	f, err := os.Create(filepath.Join(set["v-data"].Path, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = f.Write(make([]byte, 2<<20))
	if err == nil {
		err = f.Sync()
	}
	if !errors.Is(err, unix.EDQUOT) {
		t.Errorf("writing 2 MiB into a 1Mi claim: %v, want EDQUOT", err)
	}
}

// projectQuotaOnDir reports whether dir's file system enforces project
// quotas.
func projectQuotaOnDir(t *testing.T, dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return projectQuotaOn(f)
}

// TestQuotaABISizes checks the hand-written kernel structs against the
// sizes in linux/fs.h and linux/quota.h.
func TestQuotaABISizes(t *testing.T) {
	for name, got := range map[string]uintptr{
		"fsxattr":        unsafe.Sizeof(fsxattr{}),
		"if_dqblk":       unsafe.Sizeof(ifDqblk{}),
		"fs_quota_statv": unsafe.Sizeof(fsQuotaStatV{}),
	} {
		want := map[string]uintptr{"fsxattr": 28, "if_dqblk": 72, "fs_quota_statv": 160}[name]
		if got != want {
			t.Errorf("sizeof(%s) = %d, want %d", name, got, want)
		}
	}
	if got := unsafe.Offsetof(fsQuotaStatV{}.Flags); got != 2 {
		t.Errorf("fs_quota_statv.qs_flags at %d, want 2", got)
	}
}
