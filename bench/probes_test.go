package main

import (
	"testing"

	"github.com/berth-project/berth/manifests"
)

// The probe scenarios' pods are valid for berth and carry the probes the
// figures are about.
func TestProbePodYAMLValidates(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want func(manifests.Container) bool
	}{
		{"http", probePodYAML("probe-000", "localhost/berth-bench:v1", "/tmp/probes", false), func(c manifests.Container) bool {
			return c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.PeriodSeconds == 1 && c.LivenessProbe == nil
		}},
		{"http+exec", probePodYAML("probe-000", "localhost/berth-bench:v1", "/tmp/probes", true), func(c manifests.Container) bool {
			l := c.LivenessProbe
			return c.ReadinessProbe != nil && l != nil && l.Exec != nil && l.PeriodSeconds == 1 &&
				len(l.Exec.Command) == 4 && l.Exec.Command[2] == "/probes/probe-000"
		}},
		{"restart", livenessPodYAML("probe-restart", "localhost/berth-bench:v1"), func(c manifests.Container) bool {
			l := c.LivenessProbe
			return l != nil && l.HTTPGet != nil && l.FailureThreshold == 1 && c.ReadinessProbe != nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := manifests.Parse(tt.name+".yaml", []byte(tt.yaml))
			if ps := f.Problems(); len(ps) > 0 {
				t.Fatalf("problems: %v", ps)
			}
			if len(f.Docs) != 1 || f.Docs[0].Pod == nil || len(f.Docs[0].Pod.Spec.Containers) != 1 || !tt.want(f.Docs[0].Pod.Spec.Containers[0]) {
				t.Fatalf("unexpected pod: %+v", f.Docs)
			}
		})
	}
}

func TestCountTimeWait(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:A1B2 06 00000000:00000000 03:00000F2A 00000000     0        0 0 3 0
   2: 0100007F:1F90 0100007F:A1B4 06 00000000:00000000 03:00000F2A 00000000     0        0 0 3 0
   3: 0100007F:1F90 0100007F:A1B6 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0
`
	if n := countTimeWait(table); n != 2 {
		t.Errorf("TIME_WAIT = %d, want 2", n)
	}
	if n := countTimeWait(""); n != 0 {
		t.Errorf("empty table: %d", n)
	}
	if n := countLines("a\nb\n\n"); n != 2 {
		t.Errorf("lines = %d, want 2", n)
	}
}
