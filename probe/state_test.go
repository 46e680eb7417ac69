package probe

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// step is one operation on a State at a time in seconds, with what it must
// answer:
//
//	start            ContainerStarted; want: the reports, as for stop
//	stop             ContainerStopped; want: the reports, "Type=Result" joined by ","
//	take             Take; want: the types due, joined by ","
//	record TYPE RES  Record the run of TYPE that take handed out; want:
//	                 the report's result, "!" if it changed, "kill" if it
//	                 asks for a kill, "-" when the run is thrown away
//	ready, started   want: "true" or "false"
//	next             want: the next due time in seconds, or "none"
type step struct {
	at   int
	op   string
	typ  Type
	res  Result
	want string
}

func int64p(v int64) *int64 { return &v }

func TestState(t *testing.T) {
	liveness := Spec{Type: Liveness, Period: 10 * time.Second, SuccessThreshold: 1, FailureThreshold: 3, GracePeriodSeconds: int64p(5)}
	readiness := Spec{Type: Readiness, InitialDelay: 5 * time.Second, Period: 10 * time.Second, SuccessThreshold: 1, FailureThreshold: 3}
	startup := Spec{Type: Startup, Period: 2 * time.Second, SuccessThreshold: 1, FailureThreshold: 2, GracePeriodSeconds: int64p(5)}
	readiness2 := readiness
	readiness2.SuccessThreshold = 2
	readiness2.InitialDelay = 0

	tests := []struct {
		name  string
		specs []Spec
		steps []step
	}{
		{"readiness: not ready until it succeeds, after its initial delay", []Spec{readiness}, []step{
			{0, "ready", 0, 0, "false"},
			{0, "start", 0, 0, ""},
			{0, "ready", 0, 0, "false"},
			{0, "next", 0, 0, "5"},
			{4, "take", 0, 0, ""},
			{5, "take", 0, 0, "Readiness"},
			{5, "take", 0, 0, ""}, // in flight
			{5, "record", Readiness, Success, "Success!"},
			{5, "ready", 0, 0, "true"},
			{14, "take", 0, 0, ""},
			{15, "take", 0, 0, "Readiness"},
			{15, "record", Readiness, Failure, "Success"},
			{25, "take", 0, 0, "Readiness"},
			{25, "record", Readiness, Failure, "Success"},
			{35, "take", 0, 0, "Readiness"},
			{35, "record", Readiness, Failure, "Failure!"},
			{35, "ready", 0, 0, "false"},
			// Readiness keeps probing after a failure.
			{45, "take", 0, 0, "Readiness"},
			{45, "record", Readiness, Success, "Success!"},
		}},
		{"liveness: a kill after failureThreshold failures, then on hold until the restart", []Spec{liveness}, []step{
			{0, "start", 0, 0, ""},
			{0, "started", 0, 0, "true"},
			{0, "take", 0, 0, "Liveness"},
			{0, "record", Liveness, Failure, "Success"},
			{10, "take", 0, 0, "Liveness"},
			{10, "record", Liveness, Failure, "Success"},
			{20, "take", 0, 0, "Liveness"},
			{20, "record", Liveness, Failure, "Failure! kill"},
			{30, "take", 0, 0, ""},
			{30, "next", 0, 0, "none"},
			{31, "stop", 0, 0, ""},
			{32, "start", 0, 0, ""},
			{32, "take", 0, 0, "Liveness"},
			{32, "record", Liveness, Success, "Success"},
		}},
		{"liveness: a success between failures starts the count again", []Spec{liveness}, []step{
			{0, "start", 0, 0, ""},
			{0, "take", 0, 0, "Liveness"},
			{0, "record", Liveness, Failure, "Success"},
			{10, "take", 0, 0, "Liveness"},
			{10, "record", Liveness, Failure, "Success"},
			{20, "take", 0, 0, "Liveness"},
			{20, "record", Liveness, Success, "Success"},
			{30, "take", 0, 0, "Liveness"},
			{30, "record", Liveness, Failure, "Success"},
			{40, "take", 0, 0, "Liveness"},
			{40, "record", Liveness, Failure, "Success"},
		}},
		{"errored runs count for nothing", []Spec{liveness}, []step{
			{0, "start", 0, 0, ""},
			{0, "take", 0, 0, "Liveness"},
			{0, "record", Liveness, Failure, "Success"},
			{10, "take", 0, 0, "Liveness"},
			{10, "record", Liveness, Unknown, "Success"},
			{20, "take", 0, 0, "Liveness"},
			{20, "record", Liveness, Failure, "Success"},
			{30, "take", 0, 0, "Liveness"},
			{30, "record", Liveness, Failure, "Failure! kill"},
		}},
		{"startup gates liveness and readiness", []Spec{startup, liveness, readiness}, []step{
			{0, "start", 0, 0, ""},
			{0, "started", 0, 0, "false"},
			{0, "take", 0, 0, "Startup"},
			{0, "record", Startup, Failure, "Unknown"},
			{2, "take", 0, 0, "Startup"},
			{2, "record", Startup, Success, "Success!"},
			{2, "started", 0, 0, "true"},
			{2, "ready", 0, 0, "false"},
			// Liveness at once; readiness at its initial delay.
			{2, "take", 0, 0, "Liveness"},
			{2, "next", 0, 0, "5"},
			{5, "take", 0, 0, "Readiness"},
			{5, "record", Readiness, Success, "Success!"},
			{5, "ready", 0, 0, "true"},
			{2, "record", Liveness, Success, "Success"},
			// The startup probe runs no more in this run.
			{100, "take", 0, 0, "Liveness,Readiness"},
		}},
		{"startup failure: a kill with the probe's grace period, and back to not started at the restart", []Spec{startup, liveness}, []step{
			{0, "start", 0, 0, ""},
			{0, "take", 0, 0, "Startup"},
			{0, "record", Startup, Failure, "Unknown"},
			{2, "take", 0, 0, "Startup"},
			{2, "record", Startup, Failure, "Failure! kill"},
			{4, "take", 0, 0, ""},
			{5, "stop", 0, 0, ""},
			{6, "start", 0, 0, ""},
			{6, "started", 0, 0, "false"},
			{6, "take", 0, 0, "Startup"},
		}},
		{"successThreshold 2, warnings count as successes", []Spec{readiness2}, []step{
			{0, "start", 0, 0, ""},
			{0, "take", 0, 0, "Readiness"},
			{0, "record", Readiness, Warning, "Failure"},
			{10, "take", 0, 0, "Readiness"},
			{10, "record", Readiness, Success, "Success!"},
		}},
		{"a run taken before a restart is thrown away", []Spec{readiness2}, []step{
			{0, "start", 0, 0, ""},
			{0, "take", 0, 0, "Readiness"},
			{1, "stop", 0, 0, ""},
			{2, "start", 0, 0, ""},
			{3, "record", Readiness, Success, "-"},
			{3, "take", 0, 0, "Readiness"},
		}},
		{"a stopped container is not ready and not probed", []Spec{readiness, liveness}, []step{
			{0, "start", 0, 0, ""},
			{5, "take", 0, 0, "Liveness,Readiness"},
			{5, "record", Readiness, Success, "Success!"},
			{5, "record", Liveness, Success, "Success"},
			{6, "stop", 0, 0, "Readiness=Failure"},
			{6, "ready", 0, 0, "false"},
			{6, "started", 0, 0, "false"},
			{100, "take", 0, 0, ""},
			{100, "next", 0, 0, "none"},
			{101, "stop", 0, 0, ""},
		}},
		{"a start without a stop: the earlier run ends, readiness with it", []Spec{readiness2}, []step{
			{0, "start", 0, 0, ""},
			{0, "take", 0, 0, "Readiness"},
			{0, "record", Readiness, Success, "Failure"},
			{10, "take", 0, 0, "Readiness"},
			{10, "record", Readiness, Success, "Success!"},
			{12, "start", 0, 0, "Readiness=Failure"},
			{12, "ready", 0, 0, "false"},
			{12, "take", 0, 0, "Readiness"},
		}},
		{"a slow run: the next one is due at once, not a period after it ended", []Spec{liveness}, []step{
			{0, "start", 0, 0, ""},
			{0, "take", 0, 0, "Liveness"},
			{25, "record", Liveness, Success, "Success"},
			{25, "next", 0, 0, "25 settled"},
		}},
		{"a run taken late (on a grid's tick) sets the schedule: one late run, not every one", []Spec{liveness}, []step{
			{0, "start", 0, 0, ""},
			{4, "take", 0, 0, "Liveness"},
			{4, "record", Liveness, Success, "Success"},
			{4, "next", 0, 0, "14 settled"},
			{14, "take", 0, 0, "Liveness"},
			{14, "record", Liveness, Success, "Success"},
			{14, "next", 0, 0, "24 settled"},
		}},
		{"readiness settles once it has succeeded and its runs agree with its result", []Spec{readiness2}, []step{
			{0, "start", 0, 0, ""},
			{0, "next", 0, 0, "0"},
			{0, "take", 0, 0, "Readiness"},
			{0, "next", 0, 0, "none"},
			{0, "record", Readiness, Failure, "Failure"},
			{0, "next", 0, 0, "10"},
			{10, "take", 0, 0, "Readiness"},
			{10, "record", Readiness, Success, "Failure"},
			{10, "next", 0, 0, "20"},
			{20, "take", 0, 0, "Readiness"},
			{20, "record", Readiness, Success, "Success!"},
			{20, "next", 0, 0, "30 settled"},
			{30, "take", 0, 0, "Readiness"},
			{30, "record", Readiness, Failure, "Success"},
			{30, "next", 0, 0, "40"},
			{40, "take", 0, 0, "Readiness"},
			{40, "record", Readiness, Success, "Success"},
			{40, "next", 0, 0, "50 settled"},
			{45, "stop", 0, 0, "Readiness=Failure"},
			{46, "start", 0, 0, ""},
			{46, "next", 0, 0, "46"},
		}},
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState("app", tt.specs...)
			taken := map[Type]Run{}
			for i, st := range tt.steps {
				now := base.Add(time.Duration(st.at) * time.Second)
				var got string
				switch st.op {
				case "start":
					got = describeReports(s.ContainerStarted(now))
				case "stop":
					got = describeReports(s.ContainerStopped())
				case "take":
					var parts []string
					for _, r := range s.Take(now, exact) {
						taken[r.Type] = r
						parts = append(parts, r.Type.String())
					}
					got = strings.Join(parts, ",")
				case "record":
					rep, ok := s.Record(now, taken[st.typ], st.res, "out")
					got = describeReport(rep, ok)
				case "ready":
					got = fmt.Sprint(s.Ready())
				case "started":
					got = fmt.Sprint(s.Started())
				case "next":
					var due []string
					s.Upcoming(func(_ Type, at time.Time, settled bool) {
						d := fmt.Sprint(int(at.Sub(base) / time.Second))
						if settled {
							d += " settled"
						}
						due = append(due, d)
					})
					got = strings.Join(due, ",")
					if got == "" {
						got = "none"
					}
				}
				if got != st.want {
					t.Fatalf("step %d (%s %v at %ds): got %q, want %q", i, st.op, st.typ, st.at, got, st.want)
				}
			}
		})
	}
}

// exact wakes for a probe at its due time.
func exact(_ Type, due time.Time, _ bool) time.Time { return due }

func describeReports(reports []Report) string {
	var parts []string
	for _, r := range reports {
		parts = append(parts, fmt.Sprintf("%v=%v", r.Type, r.Result))
	}
	return strings.Join(parts, ",")
}

func describeReport(rep Report, ok bool) string {
	if !ok {
		return "-"
	}
	s := rep.Result.String()
	if rep.Changed {
		s += "!"
	}
	if rep.Kill() {
		s += " kill"
		if rep.GracePeriodSeconds == nil || *rep.GracePeriodSeconds != 5 {
			s += " without the probe's grace period"
		}
	}
	return s
}

func TestStateEvents(t *testing.T) {
	s := NewState("app", Spec{Type: Liveness, Period: time.Second, SuccessThreshold: 1, FailureThreshold: 3})
	now := time.Unix(0, 0)
	s.ContainerStarted(now)
	tests := []struct {
		res    Result
		output string
		want   *Event
	}{
		{Failure, "HTTP probe failed with statuscode: 500", &Event{ReasonUnhealthy, "Liveness probe failed: HTTP probe failed with statuscode: 500"}},
		{Unknown, `httpGet.port: the container has no port named "web"`, &Event{ReasonUnhealthy, `Liveness probe errored: httpGet.port: the container has no port named "web"`}},
		{Warning, "Probe terminated redirects, Response body: ", &Event{ReasonProbeWarning, "Liveness probe warning: Probe terminated redirects, Response body: "}},
		{Success, "fine", nil},
	}
	for _, tt := range tests {
		runs := s.Take(now, exact)
		if len(runs) != 1 {
			t.Fatalf("take: %v", runs)
		}
		rep, _ := s.Record(now, runs[0], tt.res, tt.output)
		if (rep.Event == nil) != (tt.want == nil) || (rep.Event != nil && *rep.Event != *tt.want) {
			t.Errorf("%v: event %+v, want %+v", tt.res, rep.Event, tt.want)
		}
		if rep.Output != tt.output || rep.Container != "app" || !rep.Ran || rep.RunResult != tt.res {
			t.Errorf("%v: report %+v", tt.res, rep)
		}
		now = now.Add(time.Second)
	}
}

// TestTakeAtAnEarlierTick: a probe whose runner wakes at a tick before its
// due time (the nearest one-second tick) is taken then, and its next run
// is a period after that tick.
func TestTakeAtAnEarlierTick(t *testing.T) {
	s := NewState("app", Spec{Type: Liveness, Period: time.Second, SuccessThreshold: 1, FailureThreshold: 3})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.ContainerStarted(base)
	early := func(_ Type, due time.Time, _ bool) time.Time { return due.Add(-300 * time.Millisecond) }
	tick := base.Add(-300 * time.Millisecond)
	if runs := s.Take(tick.Add(-time.Nanosecond), early); len(runs) != 0 {
		t.Fatalf("taken before its tick: %v", runs)
	}
	runs := s.Take(tick, early)
	if len(runs) != 1 {
		t.Fatalf("not taken at its tick: %v", runs)
	}
	s.Record(base, runs[0], Success, "")
	var due []time.Time
	s.Upcoming(func(_ Type, at time.Time, _ bool) { due = append(due, at) })
	if want := tick.Add(time.Second); len(due) != 1 || !due[0].Equal(want) {
		t.Errorf("next due %v, want %v", due, want)
	}
}
