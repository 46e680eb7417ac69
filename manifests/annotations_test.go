package manifests

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBerthAnnotations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		annotations map[string]string
		after       []PodRef
		policy      string
		problem     string // the path of the one error expected, "" for none
	}{
		{annotations: nil},
		{annotations: map[string]string{AnnotationAfter: "db, other/cache,db"},
			after: []PodRef{{"default", "db"}, {"other", "cache"}}},
		{annotations: map[string]string{AnnotationAfter: "web"}, problem: "metadata.annotations[berth.io/after]"},
		{annotations: map[string]string{AnnotationAfter: "Db"}, problem: "metadata.annotations[berth.io/after]"},
		{annotations: map[string]string{AnnotationAfter: "a,,b"}, problem: "metadata.annotations[berth.io/after]"},
		{annotations: map[string]string{AnnotationAfter: "a/b/c"}, problem: "metadata.annotations[berth.io/after]"},
		{annotations: map[string]string{AnnotationRolloutDeadline: "90s", AnnotationMinReady: "0s"}},
		{annotations: map[string]string{AnnotationRolloutDeadline: "90"}, problem: "metadata.annotations[berth.io/rollout-deadline]"},
		{annotations: map[string]string{AnnotationMinReady: "-1s"}, problem: "metadata.annotations[berth.io/min-ready]"},
		{annotations: map[string]string{AnnotationRestartOnChange: "configmaps, secrets,hostpaths"}},
		{annotations: map[string]string{AnnotationRestartOnChange: "configmaps,volumes"}, problem: "metadata.annotations[berth.io/restart-on-change]"},
		{annotations: map[string]string{AnnotationRestartOnChange: "secrets"}, policy: "Never", problem: "metadata.annotations[berth.io/restart-on-change]"},
		{annotations: map[string]string{AnnotationRestartOnChange: "secrets"}, policy: "OnFailure", problem: "metadata.annotations[berth.io/restart-on-change]"},
		{annotations: map[string]string{AnnotationRestartOnChange: "secrets"}, policy: "Always"},
	}
	for _, tt := range tests {
		p := &Pod{}
		p.Kind, p.APIVersion, p.Name, p.Namespace, p.Annotations = "Pod", "v1", "web", "default", tt.annotations
		p.Spec.Containers = []Container{{Name: "c", Image: "i"}}
		p.Spec.RestartPolicy = tt.policy
		var paths []string
		for _, pr := range ValidatePod(p) {
			if strings.HasPrefix(pr.Path, "metadata.annotations") {
				paths = append(paths, pr.Path)
			}
		}
		if want := []string{tt.problem}; tt.problem == "" && len(paths) > 0 || tt.problem != "" && !slices.Equal(paths, want) {
			t.Errorf("%v: problems at %q, want %q", tt.annotations, paths, tt.problem)
		}
		if tt.problem == "" {
			if got, err := After(p); err != nil || !slices.Equal(got, tt.after) {
				t.Errorf("%v: After = %v, %v; want %v", tt.annotations, got, err, tt.after)
			}
		}
	}
	p := &Pod{}
	p.Annotations = map[string]string{AnnotationMinReady: "3s"}
	if d, err := DurationAnnotation(p, AnnotationMinReady, time.Minute); d != 3*time.Second || err != nil {
		t.Errorf("DurationAnnotation = %v, %v; want 3s", d, err)
	}
	if d, err := DurationAnnotation(p, AnnotationRolloutDeadline, time.Minute); d != time.Minute || err != nil {
		t.Errorf("DurationAnnotation of a missing annotation = %v, %v; want the default", d, err)
	}
}
