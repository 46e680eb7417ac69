package pod

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// journal records what test steps did, safe for lanes.
type journal struct {
	mu  sync.Mutex
	ops []string
}

func (j *journal) add(op string) {
	j.mu.Lock()
	j.ops = append(j.ops, op)
	j.mu.Unlock()
}

// testStep does "do <name>" and undoes with "undo <name>"; it fails when
// name is fail.
func testStep(j *journal, name, phase, fail string) step {
	return step{
		name: name, phase: phase,
		do: func(context.Context) error {
			j.add("do " + name)
			if name == fail {
				return errors.New(name + " failed")
			}
			return nil
		},
		undo: func(context.Context) error { j.add("undo " + name); return nil },
	}
}

func testSteps(j *journal, fail string) []step {
	return []step{
		testStep(j, "a", "first", fail),
		testStep(j, "b", "first", fail),
		{name: "ab", lanes: [][]step{
			{testStep(j, "c", "second", fail)},
			{testStep(j, "d", "", fail)},
		}},
		testStep(j, "e", "", fail),
		testStep(j, "f", "third", fail),
	}
}

func TestRunnerUndoesWhatBeganInReverse(t *testing.T) {
	cases := []struct {
		fail string
		// want is the journal; the lanes c and d begin in either order,
		// and are undone in the list's.
		want [][]string
	}{
		{"", [][]string{{"do a", "do b", "do c", "do d", "do e", "do f"}, {"do a", "do b", "do d", "do c", "do e", "do f"}}},
		{"a", [][]string{{"do a", "undo a"}}},
		{"b", [][]string{{"do a", "do b", "undo b", "undo a"}}},
		{"c", [][]string{
			{"do a", "do b", "do c", "do d", "undo d", "undo c", "undo b", "undo a"},
			{"do a", "do b", "do d", "do c", "undo d", "undo c", "undo b", "undo a"},
		}},
		{"d", [][]string{
			{"do a", "do b", "do c", "do d", "undo d", "undo c", "undo b", "undo a"},
			{"do a", "do b", "do d", "do c", "undo d", "undo c", "undo b", "undo a"},
		}},
		{"f", [][]string{
			{"do a", "do b", "do c", "do d", "do e", "do f", "undo f", "undo e", "undo d", "undo c", "undo b", "undo a"},
			{"do a", "do b", "do d", "do c", "do e", "do f", "undo f", "undo e", "undo d", "undo c", "undo b", "undo a"},
		}},
	}
	for _, tc := range cases {
		t.Run("fail "+tc.fail, func(t *testing.T) {
			var j journal
			r := newRunner(nil)
			err := r.run(context.Background(), testSteps(&j, tc.fail))
			if (err != nil) != (tc.fail != "") {
				t.Fatalf("run: %v", err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.fail+" failed") {
					t.Errorf("run: %v, want the failure of %s", err, tc.fail)
				}
				if err := r.rollback(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range tc.want {
				if slices.Equal(j.ops, w) {
					return
				}
			}
			t.Errorf("journal %q, want one of %q", j.ops, tc.want)
		})
	}
}

func TestRunnerRollbackForgets(t *testing.T) {
	var j journal
	r := newRunner(nil)
	if err := r.run(context.Background(), testSteps(&j, "b")); err == nil {
		t.Fatal("run succeeded")
	}
	r.rollback(context.Background())
	n := len(j.ops)
	if err := r.rollback(context.Background()); err != nil || len(j.ops) != n {
		t.Errorf("a second rollback undid again: %q, %v", j.ops[n:], err)
	}
}

func TestRunnerRollbackRunsEveryUndo(t *testing.T) {
	var j journal
	steps := testSteps(&j, "f")
	steps[1].undo = func(context.Context) error { j.add("undo b"); return errors.New("b stuck") }
	r := newRunner(nil)
	r.run(context.Background(), steps)
	err := r.rollback(context.Background())
	if err == nil || !strings.Contains(err.Error(), "b stuck") {
		t.Errorf("rollback: %v, want b's undo error", err)
	}
	if j.ops[len(j.ops)-1] != "undo a" {
		t.Errorf("a failed undo stopped the rollback: %q", j.ops)
	}
}

func TestUndoAllUndoesEveryStep(t *testing.T) {
	var j journal
	if err := undoAll(context.Background(), testSteps(&j, "")); err != nil {
		t.Fatal(err)
	}
	want := []string{"undo f", "undo e", "undo d", "undo c", "undo b", "undo a"}
	if !slices.Equal(j.ops, want) {
		t.Errorf("teardown %q, want %q", j.ops, want)
	}
}

func TestRunnerLanesRunAtTheSameTime(t *testing.T) {
	// Each lane waits for the other to begin: run returns only if they
	// overlap.
	a, b := make(chan struct{}), make(chan struct{})
	meet := func(mine, theirs chan struct{}) func(context.Context) error {
		return func(context.Context) error {
			close(mine)
			<-theirs
			return nil
		}
	}
	done := make(chan error)
	go func() {
		done <- newRunner(nil).run(context.Background(), []step{{name: "g", lanes: [][]step{
			{{name: "a", do: meet(a, b)}},
			{{name: "b", do: meet(b, a)}},
		}}})
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunnerMarksPhases(t *testing.T) {
	var buf bytes.Buffer
	tm := newPhaseTimer(slog.New(slog.NewTextHandler(&buf, nil)), "default/web")
	var j journal
	steps := testSteps(&j, "")
	steps[2].lanes[0][0].details = func() []slog.Attr { return []slog.Attr{slog.Duration("second_part", time.Millisecond)} }
	if err := newRunner(tm).run(context.Background(), steps); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, a := range tm.attrs {
		keys = append(keys, a.Key)
	}
	// a and b share one phase; d (another lane) and e have none.
	want := []string{"first", "second_part", "second", "third"}
	if !slices.Equal(keys, want) {
		t.Errorf("phases %q, want %q", keys, want)
	}
}
