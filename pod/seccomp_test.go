package pod

import (
	"testing"

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
