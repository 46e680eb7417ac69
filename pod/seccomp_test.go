package pod

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/seccomp"
)

func TestSeccompProfile(t *testing.T) {
	yes := true
	local := "team/strict.json"
	prof := func(typ string) *manifests.SeccompProfile { return &manifests.SeccompProfile{Type: typ} }
	localhost := &manifests.SeccompProfile{Type: "Localhost", LocalhostProfile: &local}
	for _, tc := range []struct {
		name      string
		pod, ctr  *manifests.SeccompProfile
		priv      bool
		want      seccomp.Profile
		wantField string
	}{
		{"nothing said", nil, nil, false, seccomp.Profile{Type: seccomp.RuntimeDefault}, ""},
		{"pod unconfined", prof("Unconfined"), nil, false, seccomp.Profile{Type: seccomp.Unconfined}, "spec.securityContext.seccompProfile"},
		{"container over pod", prof("Unconfined"), prof("RuntimeDefault"), false, seccomp.Profile{Type: seccomp.RuntimeDefault}, "spec.containers[1].securityContext.seccompProfile"},
		{"container unconfined", prof("RuntimeDefault"), prof("Unconfined"), false, seccomp.Profile{Type: seccomp.Unconfined}, "spec.containers[1].securityContext.seccompProfile"},
		{"localhost", nil, localhost, false, seccomp.Profile{Type: seccomp.Localhost, Localhost: local}, "spec.containers[1].securityContext.seccompProfile"},
		{"pod localhost", localhost, nil, false, seccomp.Profile{Type: seccomp.Localhost, Localhost: local}, "spec.securityContext.seccompProfile"},
		{"privileged", nil, nil, true, seccomp.Profile{Type: seccomp.Unconfined}, ""},
		{"privileged over RuntimeDefault", nil, prof("RuntimeDefault"), true, seccomp.Profile{Type: seccomp.Unconfined}, "spec.containers[1].securityContext.seccompProfile"},
		{"privileged with localhost", localhost, nil, true, seccomp.Profile{Type: seccomp.Localhost, Localhost: local}, "spec.securityContext.seccompProfile"},
	} {
		p := &manifests.Pod{Spec: manifests.PodSpec{Containers: []manifests.Container{{Name: "a"}, {Name: "b"}}}}
		if tc.pod != nil {
			p.Spec.SecurityContext = &manifests.PodSecurityContext{SeccompProfile: tc.pod}
		}
		c := &p.Spec.Containers[1]
		if tc.ctr != nil || tc.priv {
			c.SecurityContext = &manifests.SecurityContext{SeccompProfile: tc.ctr}
			if tc.priv {
				c.SecurityContext.Privileged = &yes
			}
		}
		got, field := SeccompProfile(p, c)
		if got != tc.want || field != tc.wantField {
			t.Errorf("%s: %+v from %q, want %+v from %q", tc.name, got, field, tc.want, tc.wantField)
		}
	}
}

// TestCreateGivesFilterFiles: a create hands the infra each container's
// seccomp filter as a file in the pod's run directory, one per program,
// which holds the program an update still sends inline; the pod's removal
// takes the files with the directory.
func TestCreateGivesFilterFiles(t *testing.T) {
	h := newFakeHost(t.TempDir())
	m, old := startTwo(t, h)
	e := m.pods[podid.ID("default", "two")]
	startedWith := func() []infra.ContainerConfig {
		h.mu.Lock()
		defer h.mu.Unlock()
		return slices.Clone(h.procs[e.rec.InfraPID].ctrs)
	}
	started := startedWith()
	if len(started) != 2 {
		t.Fatalf("the infra started %d containers, want 2", len(started))
	}
	for _, c := range started {
		f := c.Init.Seccomp
		if f == nil || len(f.Program) != 0 || filepath.Dir(f.File) != filepath.Join(e.layout.Run, "seccomp") {
			t.Fatalf("container %s started with filter %+v, want a file in the pod's run directory and no program", c.Name, f)
		}
	}
	if started[0].Init.Seccomp.File != started[1].Init.Seccomp.File {
		t.Errorf("two containers with one profile got two files: %s, %s", started[0].Init.Seccomp.File, started[1].Init.Seccomp.File)
	}
	fromFile := *started[0].Init.Seccomp
	if err := fromFile.ReadProgram(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(fromFile.Program)
	if filepath.Base(fromFile.File) != hex.EncodeToString(sum[:])+".bpf" {
		t.Errorf("file %s does not hold the program its name says", fromFile.File)
	}

	if err := m.Apply(context.Background(), replaceAction(old, twoPod(t, changedCommand))); err != nil {
		t.Fatal(err)
	}
	updated := startedWith()[0].Init.Seccomp
	if updated == nil || updated.File != "" || !bytes.Equal(updated.Program, fromFile.Program) {
		t.Errorf("an update sent filter %+v, want the program inline", updated)
	}
	if err := m.Apply(context.Background(), deleteAction(old)); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, h)
}
