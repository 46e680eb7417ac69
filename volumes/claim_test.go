package volumes

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/manifests"
)

// TestClaimMounts plans the mounts of claim volumes: nosuid and nodev like
// every volume berth makes, read-only from the pod volume's readOnly or
// the mount's.
func TestClaimMounts(t *testing.T) {
	set := Set{
		"data": {Name: "data", Path: "/state/volumes/default/data-web-0", Kind: KindClaim},
		"logs": {Name: "logs", Path: "/state/volumes/default/logs-web-0", Kind: KindClaim, ReadOnly: true},
	}
	rw := []string{"rbind", "rprivate", "nosuid", "nodev"}
	ro := []string{"rbind", "rprivate", "ro", "nosuid", "nodev"}
	tests := []struct {
		name       string
		mount      manifests.VolumeMount
		privileged bool
		want       []string
	}{
		{"read-write", manifests.VolumeMount{Name: "data", MountPath: "/data"}, false, rw},
		{"mount readOnly", manifests.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true}, false, ro},
		{"volume readOnly", manifests.VolumeMount{Name: "logs", MountPath: "/data"}, false, ro},
		{"privileged keeps nodev", manifests.VolumeMount{Name: "data", MountPath: "/data"}, true, rw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &manifests.Container{Name: "c", VolumeMounts: []manifests.VolumeMount{tt.mount}}
			if tt.privileged {
				yes := true
				c.SecurityContext = &manifests.SecurityContext{Privileged: &yes}
			}
			got, err := Mounts(c, set)
			if err != nil {
				t.Fatal(err)
			}
			want := []container.Mount{{Source: set[tt.mount.Name].Path, Target: "/data", Type: "bind", Options: tt.want}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestClaimsOf names a pod's claims in its namespace, with their readOnly.
func TestClaimsOf(t *testing.T) {
	p := &manifests.Pod{}
	p.Namespace = "shop"
	p.Spec.Volumes = []manifests.Volume{
		{Name: "scratch", EmptyDir: &manifests.EmptyDirVolumeSource{}},
		{Name: "data", PersistentVolumeClaim: &manifests.PersistentVolumeClaimVolumeSource{ClaimName: "data-db-0"}},
		{Name: "wal", PersistentVolumeClaim: &manifests.PersistentVolumeClaimVolumeSource{ClaimName: "wal-db-0", ReadOnly: true}},
	}
	want := []ClaimUse{
		{Volume: "data", Claim: ClaimKey{"shop", "data-db-0"}},
		{Volume: "wal", Claim: ClaimKey{"shop", "wal-db-0"}, ReadOnly: true},
	}
	if got := ClaimsOf(p); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestClaimKeyNames refuses a namespace or claim that is not one path
// component.
func TestClaimKeyNames(t *testing.T) {
	for _, tt := range []struct {
		k  ClaimKey
		ok bool
	}{
		{ClaimKey{"default", "data-web-0"}, true},
		{ClaimKey{"default", ".."}, false},
		{ClaimKey{"..", "data"}, false},
		{ClaimKey{"default", "a/b"}, false},
		{ClaimKey{"", "data"}, false},
		{ClaimKey{"default", ""}, false},
	} {
		if err := checkClaimKey(tt.k); (err == nil) != tt.ok {
			t.Errorf("checkClaimKey(%q) = %v, want ok %v", tt.k, err, tt.ok)
		}
	}
	msg := ClaimCreated{Claim: ClaimKey{"default", "data"}, Path: "/v/default/data"}.Message()
	if !strings.Contains(msg, "not declared") || !strings.Contains(msg, "/v/default/data") {
		t.Errorf("undeclared claim's message %q", msg)
	}
}
