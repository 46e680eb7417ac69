package main

import (
	"testing"

	"github.com/berth-project/berth/manifests"
)

func TestSeccompPodYAML(t *testing.T) {
	for _, p := range seccompProfiles {
		f := manifests.Parse(p.series+".yaml", []byte(seccompPodYAML("bench-"+p.series, p.profile, `["/bin/demo", "getpid", "10"]`)))
		if ps := f.Problems(); len(ps) > 0 {
			t.Fatalf("%s: problems: %v", p.series, ps)
		}
		sc := f.Docs[0].Pod.Spec.SecurityContext
		if got := sc != nil && sc.SeccompProfile != nil && sc.SeccompProfile.Type == p.profile; got != (p.profile != "") {
			t.Errorf("%s: securityContext %+v", p.series, sc)
		}
	}
}

func TestParseGetpid(t *testing.T) {
	if v, ok := parseGetpid("other output\ngetpid: 2000000 calls, 315.3 ns each\n"); !ok || v != 315.3 {
		t.Errorf("parseGetpid = %v, %v; want 315.3", v, ok)
	}
	if _, ok := parseGetpid("getpid: 10 calls, fast\n"); ok {
		t.Error("a line without a figure parsed")
	}
}
