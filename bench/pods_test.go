package main

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/manifests"
)

// The YAML the harness feeds both runtimes must be valid for berth,
// without "not supported yet" refusals.
func TestPodYAMLValidates(t *testing.T) {
	tests := []struct {
		name  string
		shape podShape
		want  func(*manifests.Pod) bool
	}{
		{"one", oneContainer, func(p *manifests.Pod) bool { return len(p.Spec.Containers) == 1 }},
		{"two", twoSharingEmptyDir, func(p *manifests.Pod) bool {
			return len(p.Spec.Containers) == 2 && len(p.Spec.Volumes) == 1 && p.Spec.Volumes[0].EmptyDir != nil
		}},
		{"host", hostNetwork, func(p *manifests.Pod) bool { return p.Spec.HostNetwork }},
		{"restart", exitsSoon, func(p *manifests.Pod) bool { return p.Spec.RestartPolicy == "Always" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := manifests.Parse(tt.name+".yaml", []byte(podYAML(tt.shape, "bench-"+tt.name, "localhost/berth-bench:v1")))
			if ps := f.Problems(); len(ps) > 0 {
				t.Fatalf("problems: %v", ps)
			}
			if len(f.Docs) != 1 || f.Docs[0].Pod == nil || !tt.want(f.Docs[0].Pod) {
				t.Fatalf("unexpected pod: %+v", f.Docs)
			}
		})
	}
}

func TestMultiDocBurst(t *testing.T) {
	names := burstNames("burst", 100)
	if names[0] != "burst-000" || names[99] != "burst-099" {
		t.Fatalf("names = %s .. %s", names[0], names[99])
	}
	var docs []string
	for _, n := range names {
		docs = append(docs, podYAML(oneContainer, n, "localhost/berth-bench:v1"))
	}
	f := manifests.Parse("burst.yaml", []byte(multiDoc(docs)))
	if ps := f.Problems(); len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	if len(f.Docs) != 100 || !strings.HasPrefix(f.Docs[99].Pod.Name, "burst-099") {
		t.Fatalf("docs = %d", len(f.Docs))
	}
}

func TestContainersConfClampsLimits(t *testing.T) {
	got := containersConf("runc", 20000, 1<<40)
	for _, want := range []string{`"nofile=20000:20000"`, `"nproc=32768:32768"`, `runtime = "runc"`, `cgroup_manager = "cgroupfs"`} {
		if !strings.Contains(got, want) {
			t.Errorf("containers.conf lacks %s:\n%s", want, got)
		}
	}
}
