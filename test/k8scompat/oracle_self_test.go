package k8scompat

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestOracleIsStrict: the oracle refuses what a strict Kubernetes decoder
// refuses, and the round trip notices a changed value, so that the other
// tests can fail.
func TestOracleIsStrict(t *testing.T) {
	for _, bad := range []string{
		`{"apiVersion":"v1","kind":"Pod","berth":{"file":"/m/p.yaml"}}`,
		`{"status":{"containerStatuses":[{"name":"c","lastTerminationState":{}}]}}`,
		`{"metadata":{"Name":"wrong-case"}}`,
		`{"metadata":{"name":"a","name":"b"}}`,
		`{"spec":{"terminationGracePeriodSeconds":"30"}}`,
	} {
		if err := strictJSON([]byte(bad), &corev1.Pod{}); err == nil {
			t.Errorf("strict decode of %s: no error", bad)
		}
	}
	lost, err := roundTrip([]byte(`{"status":{"startTime":"2026-01-02T15:04:05.5Z","qosClass":"BestEffort"}}`), &corev1.Pod{})
	if err != nil || len(lost) != 1 || !strings.HasPrefix(lost[0], ".status.startTime:") {
		t.Errorf("round trip of a fractional time: %q, %v; want the change reported", lost, err)
	}
	lost, err = roundTrip([]byte(`{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"0.5"}}}]}}`), &corev1.Pod{})
	if err != nil || len(lost) != 0 {
		t.Errorf("round trip of an equal quantity in another form: %q, %v; want no loss", lost, err)
	}
}
