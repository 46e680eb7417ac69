package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
)

func TestWithKubeTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 987_654_321, time.FixedZone("CET", 3600))
	start := t0
	p := Pod{
		Metadata: ObjectMeta{CreationTimestamp: t0},
		Status: PodStatus{
			StartTime:  &start,
			Conditions: []PodCondition{{Type: PodReady, Status: ConditionTrue, LastTransitionTime: t0}, {Type: ConditionManifestValid, Status: ConditionFalse}},
			ContainerStatuses: []ContainerStatus{{
				Name:      "c",
				State:     kube.ContainerState{Running: &kube.StateRunning{StartedAt: t0}},
				LastState: kube.ContainerState{Terminated: &kube.StateTerminated{StartedAt: t0, FinishedAt: t0}},
			}},
			InitContainerStatuses: []ContainerStatus{{Name: "i", State: kube.ContainerState{Terminated: &kube.StateTerminated{FinishedAt: t0}}}},
		},
	}
	before, _ := json.Marshal(p)
	b, err := json.Marshal(p.WithKubeTimes())
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if n := strings.Count(got, `"2026-01-02T14:04:05Z"`); n != 7 {
		t.Errorf("%d times in whole UTC seconds, want 7: %s", n, got)
	}
	if strings.Contains(got, "0001-01-01") || strings.Contains(got, ".98") {
		t.Errorf("a zero time was written or a fraction kept: %s", got)
	}
	if after, _ := json.Marshal(p); string(after) != string(before) {
		t.Errorf("WithKubeTimes changed its receiver's shared state:\n%s\n%s", before, after)
	}
}
