package infra

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
)

func TestEventRing(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(reason, ctr string) Event {
		return Event{Type: kube.EventNormal, Reason: reason, Container: ctr, Message: reason + " " + ctr}
	}
	tests := []struct {
		name string
		add  []Event
		// want lists reason/container:count, oldest first.
		want []string
	}{
		{"empty", nil, nil},
		{"in order", []Event{ev("Created", "a"), ev("Started", "a")}, []string{"Created/a:1", "Started/a:1"}},
		{"repeat folds and moves last",
			[]Event{ev("Created", "a"), ev("Started", "a"), ev("BackOff", "a"), ev("Created", "a"), ev("Started", "a")},
			[]string{"BackOff/a:1", "Created/a:2", "Started/a:2"}},
		{"other container is distinct", []Event{ev("BackOff", "a"), ev("BackOff", "b")}, []string{"BackOff/a:1", "BackOff/b:1"}},
	}
	for _, tt := range tests {
		var r eventRing
		for i, e := range tt.add {
			r.add(e, t0.Add(time.Duration(i)*time.Second))
		}
		var got []string
		for _, e := range r.list() {
			got = append(got, fmt.Sprintf("%s/%s:%d", e.Reason, e.Container, e.Count))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEventRingBoundedAndTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var r eventRing
	for i := range MaxEvents + 20 {
		r.add(Event{Reason: "R", Message: fmt.Sprint(i)}, t0.Add(time.Duration(i)*time.Second))
	}
	l := r.list()
	if len(l) != MaxEvents || l[0].Message != "20" || l[len(l)-1].Message != fmt.Sprint(MaxEvents+19) {
		t.Fatalf("ring holds %d events from %q to %q, want the last %d", len(l), l[0].Message, l[len(l)-1].Message, MaxEvents)
	}
	r.add(Event{Reason: "R", Message: "25"}, t0.Add(time.Hour))
	last := r.list()[MaxEvents-1]
	if last.Message != "25" || last.Count != 2 || !last.FirstTime.Equal(t0.Add(25*time.Second)) || !last.Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("repeat not folded with first and last time: %+v", last)
	}
	// The list is a copy: changing it does not change the ring.
	l[0].Message = "changed"
	if r.list()[0].Message == "changed" {
		t.Fatal("list shares memory with the ring")
	}
}

// TestSupervisorEvents follows a crash-looping container, an OOM kill, a
// start failure and a stop through the events the supervisor records.
func TestSupervisorEvents(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartAlways
	cfg.Containers = []ContainerConfig{{Name: "loop"}, {Name: "hog", OOMEventsFile: "/x"}, {Name: "broken"}}
	s, p := newTestSupervisor(cfg)
	p.startErr["broken"] = errors.New("exec: no such file")
	if err := s.Start(nil, nil, func() {}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.Exited(s.Status().Containers[0].PID, exitStatus(2))
		p.fire()
	}
	p.oom = 1
	s.Exited(s.Status().Containers[1].PID, signalStatus(syscall.SIGKILL))
	s.Stop(time.Minute, func(error) {})

	got := map[string]Event{}
	for _, e := range s.Status().Events {
		got[e.Container+"/"+e.Reason] = e
	}
	for key, want := range map[string]struct {
		typ   string
		count int
	}{
		"loop/Created":     {kube.EventNormal, 4},
		"loop/Started":     {kube.EventNormal, 4},
		"loop/BackOff":     {kube.EventWarning, 3},
		"loop/Killing":     {kube.EventNormal, 1},
		"hog/OOMKilled":    {kube.EventWarning, 1},
		"hog/BackOff":      {kube.EventWarning, 1},
		"broken/Failed":    {kube.EventWarning, 4},
		"broken/BackOff":   {kube.EventWarning, 4},
		"hog/Started":      {kube.EventNormal, 1},
		"broken/Started":   {"", 0},
		"hog/Killing":      {"", 0}, // in back-off when the stop came: nothing to stop
		"broken/Killing":   {"", 0},
		"loop/OOMKilled":   {"", 0},
		"broken/OOMKilled": {"", 0},
	} {
		e, ok := got[key]
		if want.count == 0 {
			if ok {
				t.Errorf("%s: unexpected event %+v", key, e)
			}
			continue
		}
		if !ok || e.Type != want.typ || e.Count != want.count {
			t.Errorf("%s: got %+v (present %v), want type %s count %d", key, e, ok, want.typ, want.count)
		}
	}
}
