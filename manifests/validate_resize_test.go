package manifests

import (
	"strings"
	"testing"
)

func TestValidateResizePolicy(t *testing.T) {
	pod := func(init, policy string) string {
		s := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
		if init != "" {
			s += "  initContainers:\n  - name: i\n    image: demo\n    resizePolicy: " + init + "\n"
		}
		return s + "  containers:\n  - name: c\n    image: demo\n    resizePolicy: " + policy + "\n"
	}
	tests := []struct {
		name, yaml string
		path, msg  string
	}{
		{"both resources", pod("", "[{resourceName: cpu, restartPolicy: NotRequired}, {resourceName: memory, restartPolicy: RestartContainer}]"), "", ""},
		{"unknown resource", pod("", "[{resourceName: ephemeral-storage, restartPolicy: NotRequired}]"),
			"spec.containers[0].resizePolicy[0].resourceName", "use cpu or memory"},
		{"twice", pod("", "[{resourceName: cpu, restartPolicy: NotRequired}, {resourceName: cpu, restartPolicy: RestartContainer}]"),
			"spec.containers[0].resizePolicy[1].resourceName", "given twice"},
		{"no policy", pod("", "[{resourceName: memory}]"), "spec.containers[0].resizePolicy[0].restartPolicy", "is required"},
		{"unknown policy", pod("", "[{resourceName: memory, restartPolicy: Sometimes}]"), "spec.containers[0].resizePolicy[0].restartPolicy", "Sometimes"},
		{"init container", pod("[{resourceName: cpu, restartPolicy: NotRequired}]", "[]"), "spec.initContainers[0].resizePolicy", "init container"},
	}
	for _, tt := range tests {
		ps := Parse("p.yaml", []byte(tt.yaml)).Problems()
		if tt.path == "" {
			if len(ps) > 0 {
				t.Errorf("%s: problems %v, want none", tt.name, ps)
			}
			continue
		}
		if len(ps) != 1 || ps[0].Path != tt.path || ps[0].Severity != Error || !strings.Contains(ps[0].Message, tt.msg) {
			t.Errorf("%s: problems %v, want one error at %s saying %q", tt.name, ps, tt.path, tt.msg)
		}
	}
}
