package procstat

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

func TestParseStartTime(t *testing.T) {
	fields := " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20 21"
	for _, tc := range []struct {
		name, stat string
		want       uint64
		ok         bool
	}{
		{"plain", "12 (demo)" + fields, 424242, true},
		{"name with spaces and parens", "12 (a) b (c)" + fields, 424242, true},
		{"real line", "42 (we ird) name) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10", 987654, true},
		{"no name", "12 demo S 1", 0, false},
		{"short", "12 (demo) S 1 2 3", 0, false},
		{"not a number", "12 (demo) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x", 0, false},
	} {
		got, err := ParseStartTime(tc.stat)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: ParseStartTime = %d, %v; want %d ok=%v", tc.name, got, err, tc.want, tc.ok)
		}
	}
}

func TestStartTime(t *testing.T) {
	a, err := StartTime(os.Getpid())
	if err != nil || a == 0 {
		t.Fatalf("own start time = %d, %v", a, err)
	}
	if b, _ := StartTime(os.Getpid()); b != a {
		t.Errorf("start time changed: %d then %d", a, b)
	}
	// The process's state is its main thread's, which may be asleep
	// while this goroutine's thread runs.
	if st, state, err := StartTimeAndState(os.Getpid()); st != a || (state != 'R' && state != 'S') || err != nil {
		t.Errorf("own start time and state = %d %q %v, want %d and R or S", st, state, err, a)
	}
	// A child that exited and is not reaped yet is a zombie.
	child, err := os.StartProcess("/proc/self/exe", []string{"procstat.test", "-test.run=^$"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	testutil.WaitFor(t, 10*time.Second, "the child to be a zombie", func() bool {
		_, state, err := StartTimeAndState(child.Pid)
		return err == nil && state == 'Z'
	})
	if _, err := StartTime(1 << 30); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing process: %v, want os.ErrNotExist", err)
	}
}
