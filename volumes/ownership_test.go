package volumes

import (
	"io/fs"
	"testing"

	"github.com/berth-project/berth/manifests"
)

func TestOwnershipMode(t *testing.T) {
	rw := ownership{gid: 2000}
	ro := ownership{gid: 2000, readOnly: true}
	tests := []struct {
		name  string
		o     ownership
		mode  uint32
		isDir bool
		want  uint32
	}{
		{"file gets group rw", rw, 0o600, false, 0o660},
		{"world bits kept", rw, 0o644, false, 0o664},
		{"executable kept", rw, 0o700, false, 0o760},
		{"read-only volume file gets group r", ro, 0o400, false, 0o440},
		{"read-only keeps defaultMode's other bits", ro, 0o644, false, 0o644},
		{"dir gets rwx and setgid", rw, 0o755, true, 0o2775},
		{"emptyDir root", rw, 0o777, true, 0o2777},
		{"read-only dir gets r-x and setgid", ro, 0o755, true, 0o2755},
		{"sticky dir keeps sticky", rw, 0o1777, true, 0o3777},
		{"file loses setuid and setgid", rw, 0o6755, false, 0o775},
		{"type bits ignored", rw, 0o100600, false, 0o660},
	}
	for _, tt := range tests {
		if got := tt.o.mode(tt.mode, tt.isDir); got != tt.want {
			t.Errorf("%s: mode(%#o) = %#o, want %#o", tt.name, tt.mode, got, tt.want)
		}
	}
}

func TestOwnershipSkipWalk(t *testing.T) {
	always := ownership{gid: 2000}
	onMismatch := ownership{gid: 2000, onRootMismatch: true}
	roOnMismatch := ownership{gid: 2000, readOnly: true, onRootMismatch: true}
	tests := []struct {
		name  string
		o     ownership
		gid   uint32
		mode  uint32
		isDir bool
		want  bool
	}{
		{"Always walks a matching root", always, 2000, 0o2770, true, false},
		{"OnRootMismatch skips a matching root", onMismatch, 2000, 0o2770, true, true},
		{"extra bits still match", onMismatch, 2000, 0o42777, true, true},
		{"wrong group walks", onMismatch, 0, 0o2777, true, false},
		{"no setgid walks", onMismatch, 2000, 0o777, true, false},
		{"no group write walks", onMismatch, 2000, 0o2750, true, false},
		{"no group exec walks", onMismatch, 2000, 0o2760, true, false},
		{"read-only needs no write", roOnMismatch, 2000, 0o2550, true, true},
		{"file root needs no setgid", onMismatch, 2000, 0o660, false, true},
	}
	for _, tt := range tests {
		if got := tt.o.skipWalk(tt.gid, tt.mode, tt.isDir); got != tt.want {
			t.Errorf("%s: skipWalk(gid %d, %#o) = %v, want %v", tt.name, tt.gid, tt.mode, got, tt.want)
		}
	}
}

func TestPodOwnership(t *testing.T) {
	gid := int64(2000)
	pod := func(sc *manifests.PodSecurityContext) *manifests.Pod {
		return &manifests.Pod{Spec: manifests.PodSpec{SecurityContext: sc}}
	}
	if o := podOwnership(pod(nil), false); o != nil {
		t.Errorf("no securityContext: %+v, want nil", o)
	}
	if o := podOwnership(pod(&manifests.PodSecurityContext{SupplementalGroups: []int64{1}}), false); o != nil {
		t.Errorf("no fsGroup: %+v, want nil", o)
	}
	o := podOwnership(pod(&manifests.PodSecurityContext{FSGroup: &gid}), true)
	if o == nil || *o != (ownership{gid: 2000, readOnly: true}) {
		t.Errorf("fsGroup, default policy: %+v", o)
	}
	o = podOwnership(pod(&manifests.PodSecurityContext{FSGroup: &gid, FSGroupChangePolicy: "OnRootMismatch"}), false)
	if o == nil || *o != (ownership{gid: 2000, onRootMismatch: true}) {
		t.Errorf("fsGroup, OnRootMismatch: %+v", o)
	}
}

func TestPayloadGroupReadable(t *testing.T) {
	p := payload{"a": {data: []byte("x"), mode: 0o400}, "b/c": {mode: 0o644}, "d": {mode: 0o600}}
	got := p.groupReadable()
	want := map[string]fs.FileMode{"a": 0o440, "b/c": 0o644, "d": 0o640}
	for name, m := range want {
		if got[name].mode != m {
			t.Errorf("%s: mode %#o, want %#o", name, got[name].mode, m)
		}
	}
	if p["a"].mode != 0o400 {
		t.Error("groupReadable changed its receiver")
	}
}
