package pod

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/volumes"
)

func claimingPod(name string, claims ...string) *manifests.Pod {
	p := &manifests.Pod{}
	p.Namespace, p.Name = "default", name
	for _, c := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, manifests.Volume{Name: c,
			PersistentVolumeClaim: &manifests.PersistentVolumeClaimVolumeSource{ClaimName: c}})
	}
	return p
}

func claimDecl(modes ...string) *manifests.PersistentVolumeClaim {
	c := &manifests.PersistentVolumeClaim{}
	c.Spec.AccessModes = modes
	return c
}

// TestClaimAccessModes decides which pod may use a claim: a
// ReadWriteOncePod claim admits the pod that holds it (created, or being
// created first), a ReadWriteOnce claim (or one nobody declared) is shared
// by every pod of the node, as the kubelet shares it.
func TestClaimAccessModes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	decls := map[string]*manifests.PersistentVolumeClaim{
		"solo":   claimDecl(manifests.ReadWriteOncePod),
		"shared": claimDecl(manifests.ReadWriteOnce),
	}
	me := claimUser{id: "default/b", pod: claimingPod("b", "solo", "shared"), at: t0}
	tests := []struct {
		name   string
		me     claimUser
		others []claimUser
		want   string // the conflicting claim, "" for none
	}{
		{"alone", me, nil, ""},
		{"running holder", me, []claimUser{{id: "default/a", pod: claimingPod("a", "solo"), created: true}}, "solo"},
		{"earlier create", me, []claimUser{{id: "default/a", pod: claimingPod("a", "solo"), at: t0.Add(-time.Second)}}, "solo"},
		{"later create waits for me", me, []claimUser{{id: "default/a", pod: claimingPod("a", "solo"), at: t0.Add(time.Second)}}, ""},
		{"tie broken by id", me, []claimUser{{id: "default/a", pod: claimingPod("a", "solo"), at: t0}}, "solo"},
		{"tie won by id", claimUser{id: "default/a", pod: claimingPod("a", "solo"), at: t0}, []claimUser{{id: "default/b", pod: claimingPod("b", "solo"), at: t0}}, ""},
		{"ReadWriteOnce shared", me, []claimUser{{id: "default/a", pod: claimingPod("a", "shared"), created: true}}, ""},
		{"undeclared shared", claimUser{id: "default/b", pod: claimingPod("b", "free"), at: t0}, []claimUser{{id: "default/a", pod: claimingPod("a", "free"), created: true}}, ""},
		{"itself", me, []claimUser{{id: "default/b", pod: claimingPod("b", "solo"), created: true}}, ""},
		{"other namespace", me, []claimUser{{id: "other/a", pod: func() *manifests.Pod { p := claimingPod("a", "solo"); p.Namespace = "other"; return p }(), created: true}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, holder, ok := oncePodConflict(tt.me, tt.others, decls)
			if got := map[bool]string{true: k.Name}[ok]; got != tt.want {
				t.Fatalf("conflict on %q (holder %v), want %q", got, holder, tt.want)
			}
		})
	}
}

// TestClaimUsers reads the pod records to find who uses a claim.
func TestClaimUsers(t *testing.T) {
	state := t.TempDir()
	for _, p := range []*manifests.Pod{claimingPod("web-0", "data-web-0", "logs"), claimingPod("web-1", "data-web-1", "logs"), claimingPod("plain")} {
		l := NewLayout(state, t.TempDir(), t.TempDir(), p.Namespace, p.Name, "uid")
		if err := createRecord(l.State, &record{UID: "uid", Pod: p}); err != nil {
			t.Fatal(err)
		}
	}
	for claim, want := range map[string][]string{
		"logs":       {"default/web-0", "default/web-1"},
		"data-web-1": {"default/web-1"},
		"nobody":     nil,
	} {
		got, err := ClaimUsers(state, volumes.ClaimKey{Namespace: "default", Name: claim})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 2 && got[0] > got[1] {
			got[0], got[1] = got[1], got[0]
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ClaimUsers(%s) = %v, want %v", claim, got, want)
		}
	}
	if got, err := ClaimUsers(filepath.Join(state, "none"), volumes.ClaimKey{Namespace: "default", Name: "logs"}); err != nil || got != nil {
		t.Errorf("no pods dir: %v %v", got, err)
	}
	all, err := ClaimsUsers(state)
	if err != nil || len(all) != 3 || len(all[volumes.ClaimKey{Namespace: "default", Name: "logs"}]) != 2 {
		t.Errorf("ClaimsUsers() = %v, %v; want logs, data-web-0 and data-web-1, logs used twice", all, err)
	}
}
