package volumes

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	set, created, err := s.Prepare(claimPod("default", nil, "data", "logs"), decls)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 2 || !created[0].Declared || created[1].Declared {
		t.Fatalf("created %+v: want data (declared) and logs (not)", created)
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
	if _, created, err = s.Prepare(claimPod("default", nil, "data"), nil); err != nil || len(created) != 0 {
		t.Fatalf("second Prepare: created %+v, %v", created, err)
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
