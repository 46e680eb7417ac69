package daemon

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/manifests"
)

func TestProblemTrackerReportsEachProblemOnce(t *testing.T) {
	bad := func(file, path string) manifests.Problem {
		return manifests.Problem{File: file, Document: 0, Path: path, Line: 3, Severity: manifests.Error, Message: "bad"}
	}
	warn := manifests.Problem{File: "w.yaml", Document: 0, Path: "spec.nodeName", Severity: manifests.Warning, Message: "ignored"}
	a, b := bad("a.yaml", "spec.containers[0].image"), bad("b.yaml", "metadata.name")
	var tr problemTracker
	for i, step := range []struct {
		problems []manifests.Problem
		want     []manifests.Problem
	}{
		{[]manifests.Problem{a, warn}, []manifests.Problem{a}}, // warnings are not events
		{[]manifests.Problem{a, warn}, nil},                    // same problem, next pass: nothing
		{[]manifests.Problem{a, b, b}, []manifests.Problem{b}}, // a new one, once
		{nil, nil}, // fixed
		{[]manifests.Problem{a}, []manifests.Problem{a}}, // broken again: reported again
	} {
		got := tr.fresh(step.problems)
		if fmt.Sprint(got) != fmt.Sprint(step.want) {
			t.Errorf("pass %d: fresh = %v, want %v", i, got, step.want)
		}
	}
}

func TestMergeEventsAndSince(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int, reason string) api.Event {
		return api.Event{Time: t0.Add(time.Duration(s) * time.Second), Reason: reason}
	}
	l := newEventLog(2, slog.New(slog.DiscardHandler))
	l.add(at(1, "dropped"))
	l.add(at(2, "Created"))
	l.add(at(4, "Killing"))
	merged := mergeEvents(l.since(time.Time{}), []api.Event{at(3, "Started"), at(2, "BackOff")})
	var got []string
	for _, e := range merged {
		got = append(got, e.Reason)
	}
	if want := "[Created BackOff Started Killing]"; fmt.Sprint(got) != want {
		t.Errorf("merged = %v, want %s", got, want)
	}
	if got := after(merged, t0.Add(2*time.Second)); len(got) != 2 || got[0].Reason != "Started" {
		t.Errorf("after 2s: %v", got)
	}
}

func TestValidationEvent(t *testing.T) {
	p := manifests.Problem{File: "/m/web.yaml", Document: 0, Path: "spec.containers[0].image", Line: 7, Severity: manifests.Error, Message: "required"}
	e := validationEvent(p, time.Unix(1, 0))
	if e.Reason != api.EventFailedValidation || e.Type != api.EventWarning || e.Object != "/m/web.yaml" || e.Message != p.String() {
		t.Fatalf("event %+v", e)
	}
}

func TestEventLogFoldsRepeats(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newEventLog(10, slog.New(slog.DiscardHandler))
	fail := api.Event{Type: api.EventWarning, Reason: api.EventImageNotFound, Object: "pod/default/web", Message: "no image"}
	other := api.Event{Type: api.EventNormal, Reason: api.EventCreated, Object: "pod/default/db", Message: "created"}
	for i, e := range []api.Event{fail, other, fail, fail} {
		e.Time = t0.Add(time.Duration(i) * time.Second)
		l.add(e)
	}
	got := l.since(time.Time{})
	if len(got) != 2 || got[0].Reason != api.EventCreated || got[0].Count != 1 {
		t.Fatalf("events %+v", got)
	}
	if f := got[1]; f.Count != 3 || !f.FirstTime.Equal(t0) || !f.Time.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("folded event %+v, want count 3 from t0 to t0+3s", f)
	}
}
