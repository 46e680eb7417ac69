package daemon

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/pod"
	"github.com/berth-project/berth/reconciler"
)

func TestStatusText(t *testing.T) {
	failed := reconciler.Failure{Action: reconciler.Action{Kind: reconciler.Create, Key: reconciler.PodKey{Namespace: "default", Name: "web"}},
		Err: errors.New("image missing")}
	invalid := errors.New("bad.yaml: spec.containers[0].image: required")
	for _, tc := range []struct {
		name     string
		s        pod.Summary
		problems []error
		want     string
	}{
		{"nothing", pod.Summary{}, nil, "0 pods running, 0 failing"},
		{"one running", pod.Summary{Running: 1}, nil, "1 pod running, 0 failing"},
		{"a failed create", pod.Summary{Running: 2, Failing: 1, LastFailure: "default/web: ErrImageNeverPull: image\nmissing"}, []error{failed},
			"2 pods running, 1 failing; last error: default/web: ErrImageNeverPull: image missing"},
		{"a manifest problem", pod.Summary{Running: 1}, []error{invalid},
			"1 pod running, 0 failing, 1 manifest problem; last error: " + invalid.Error()},
		{"a failed delete", pod.Summary{Running: 1}, []error{failed}, "1 pod running, 0 failing; last error: " + failed.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusText(tc.s, tc.problems); got != tc.want {
				t.Errorf("statusText = %q, want %q", got, tc.want)
			}
		})
	}
	long := statusText(pod.Summary{Failing: 1, LastFailure: strings.Repeat("x", 500)}, nil)
	if n := len([]rune(long)); n != statusMax || !strings.HasSuffix(long, "…") {
		t.Errorf("a long status has %d runes (%q), want %d ending in …", n, long, statusMax)
	}
}

func TestStatusNotifierSendsChangesOnly(t *testing.T) {
	var sent []string
	n := &statusNotifier{log: slog.New(slog.DiscardHandler), send: func(s string) error {
		sent = append(sent, s)
		return nil
	}}
	for _, text := range []string{"a", "a", "b", "b", "b", "a"} {
		n.update(text)
	}
	if want := []string{"STATUS=a", "STATUS=b", "STATUS=a"}; !slices.Equal(sent, want) {
		t.Errorf("sent %q, want %q", sent, want)
	}
}
