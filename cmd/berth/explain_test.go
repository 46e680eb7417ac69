package main

import (
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	for _, tt := range []struct {
		path string
		code int
		want []string
	}{
		{"spec.containers.livenessProbe", 0, []string{"FIELD:   spec.containers[].livenessProbe\n", "STATUS:  implemented\n", "TYPE:    a mapping\n", "WHY:     berth acts on it"}},
		{"spec.containers[].lifecycle.preStop.tcpSocket", 0, []string{"FIELD:   spec.containers[].lifecycle.preStop.tcpSocket\n", "STATUS:  not supported yet\n", "WHY:     tcpSocket is not supported yet by berth: Kubernetes never runs it as a hook (the kubelet fails it at run time); use exec, httpGet or sleep; a manifest that sets it is refused"}},
		{"spec.containers.resources.limits", 0, []string{"STATUS:  implemented, some values not supported yet\n", "only cpu and memory limits are enforced"}},
		{"spec.nodeSelector", 0, []string{"FIELD:   spec.nodeSelector\n", "STATUS:  cluster-only", "WHY:     nodeSelector is ignored: it only matters to a cluster scheduler", "runs with a warning"}},
		{"spec.volumes.nfs", 0, []string{"FIELD:   spec.volumes[].nfs\n", "STATUS:  not supported yet\n"}},
		{"spec.containerz", 1, []string{`spec.containerz: not a Kubernetes Pod field berth knows`}},
		{"spec.containers.", 1, []string{"malformed field path"}},
		{"metadata.labels.app", 1, []string{"metadata.labels.app: metadata.labels holds no fields"}},
	} {
		out, code := run(t, "explain", tt.path)
		if code != tt.code {
			t.Errorf("explain %s: exit %d, want %d\n%s", tt.path, code, tt.code, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("explain %s: output lacks %q\n%s", tt.path, w, out)
			}
		}
	}
	if _, code := run(t, "explain"); code != 1 {
		t.Errorf("explain without a path: exit %d, want 1", code)
	}
}
