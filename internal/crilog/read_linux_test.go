package crilog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

// syncBuf is a Flusher the test can read while the stream writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuf) Flush() error { return nil }
func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitEnd waits for a Copy's result and fails the test on an error or
// when none comes.
func waitEnd(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal(what)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

func records(stream string, from, to int) (string, []string) {
	var b strings.Builder
	var lines []string
	for i := from; i <= to; i++ {
		txt := fmt.Sprintf("line %d", i)
		b.WriteString(cri(i, stream, "F", txt))
		lines = append(lines, txt)
	}
	return b.String(), lines
}

// TestReaderFollow plays the infra's part by hand: lines appended, a
// rotation (rename, fresh file, old one marked complete), the end of run 0,
// run 1's file; the follower prints every line once, in order, and ends when
// the container has terminated for good.
func TestReaderFollow(t *testing.T) {
	dir := t.TempDir()
	cur := filepath.Join(dir, "0.log")
	a, want := records("stdout", 1, 3)
	appendFile(t, cur, a)
	var mu sync.Mutex
	restarts, final := 0, false
	s, err := Open(dir, 0, ReadOptions{Tail: -1, Follow: true, State: func(context.Context) (int, bool, bool) {
		mu.Lock()
		defer mu.Unlock()
		return restarts, final, true
	}})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuf{}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { done <- s.Copy(ctx, out) }()
	t.Cleanup(func() { s.Close() })
	seen := func(lines []string) func() bool {
		return func() bool { return out.String() == strings.Join(lines, "\n")+"\n" }
	}
	testutil.WaitFor(t, 10*time.Second, "first lines", seen(want))

	b, more := records("stderr", 4, 6)
	appendFile(t, cur, b)
	want = append(want, more...)
	testutil.WaitFor(t, 10*time.Second, "appended lines", seen(want))

	// Rotation: one more line lands in the old file before it is renamed.
	c, more := records("stdout", 7, 7)
	appendFile(t, cur, c)
	want = append(want, more...)
	rotated := filepath.Join(dir, "0.log.20260102-150405.000000000")
	if err := os.Rename(cur, rotated); err != nil {
		t.Fatal(err)
	}
	d, more := records("stdout", 8, 9)
	appendFile(t, cur, d)
	want = append(want, more...)
	if err := os.Chmod(rotated, 0o440); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "lines after the rotation", seen(want))

	// Run 0 ends; run 1 starts.
	if err := os.Chmod(cur, 0o440); err != nil {
		t.Fatal(err)
	}
	e, more := records("stdout", 10, 11)
	appendFile(t, filepath.Join(dir, "1.log"), e)
	want = append(want, more...)
	testutil.WaitFor(t, 10*time.Second, "the next run's lines", seen(want))

	// Run 1 ends for good: the stream ends.
	mu.Lock()
	restarts, final = 1, true
	mu.Unlock()
	if err := os.Chmod(filepath.Join(dir, "1.log"), 0o440); err != nil {
		t.Fatal(err)
	}
	waitEnd(t, done, "the stream did not end after the container terminated for good")
	if !seen(want)() {
		t.Fatalf("output\n%s\nwant\n%s", out.String(), strings.Join(want, "\n"))
	}
}

func TestReaderTailAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a, _ := records("stdout", 1, 5)
	b, _ := records("stdout", 6, 8)
	c, _ := records("stdout", 9, 10)
	appendFile(t, filepath.Join(dir, "2.log.20260101-000000.000000000"), a)
	appendFile(t, filepath.Join(dir, "2.log.20260101-000001.000000000"), b)
	appendFile(t, filepath.Join(dir, "2.log"), c)
	for _, tt := range []struct {
		tail int
		want string
	}{
		{-1, "line 1 .. line 10"}, {0, ""}, {1, "line 10"}, {4, "line 7 .. line 10"}, {7, "line 4 .. line 10"}, {99, "line 1 .. line 10"},
	} {
		s, err := Open(dir, 2, ReadOptions{Tail: tt.tail})
		if err != nil {
			t.Fatal(err)
		}
		out := &syncBuf{}
		if err := s.Copy(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		s.Close()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		got := ""
		switch {
		case out.String() == "":
		case len(lines) == 1:
			got = lines[0]
		default:
			got = lines[0] + " .. " + lines[len(lines)-1]
			if want := len(lines); strings.Count(out.String(), "\n") != want {
				t.Errorf("tail %d: broken lines", tt.tail)
			}
		}
		if got != tt.want {
			t.Errorf("tail %d: got %q, want %q", tt.tail, got, tt.want)
		}
	}
}

// TestReaderFollowEnds: a follower waiting for the container's next run
// ends when the pod's log dir is removed and when its context ends, even
// while the pod's status still shows the container.
func TestReaderFollowEnds(t *testing.T) {
	running := func(context.Context) (int, bool, bool) { return 0, false, true }
	for _, tc := range []struct {
		name string
		end  func(dir string, cancel context.CancelFunc) error
	}{
		{"log dir removed", func(dir string, _ context.CancelFunc) error { return os.RemoveAll(dir) }},
		{"context ended", func(_ string, cancel context.CancelFunc) error { cancel(); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "c")
			if err := os.Mkdir(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			a, _ := records("stdout", 1, 2)
			appendFile(t, filepath.Join(dir, "0.log"), a)
			if err := os.Chmod(filepath.Join(dir, "0.log"), modeComplete); err != nil {
				t.Fatal(err)
			}
			s, err := Open(dir, 0, ReadOptions{Tail: -1, Follow: true, State: running})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			out := &syncBuf{}
			done := make(chan error, 1)
			go func() { done <- s.Copy(ctx, out) }()
			testutil.WaitFor(t, 10*time.Second, "first lines", func() bool { return out.String() == "line 1\nline 2\n" })
			if err := tc.end(dir, cancel); err != nil {
				t.Fatal(err)
			}
			waitEnd(t, done, "the follower did not end")
		})
	}
}

func TestReaderEmpty(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, "0.log"), cri(0, "stdout", "F", "run 0"))
	for _, tc := range []struct {
		dir  string
		run  int
		want bool
	}{
		{dir, 0, false},
		{dir, 1, true},
		{filepath.Join(dir, "missing"), 0, true},
	} {
		s, err := Open(tc.dir, tc.run, ReadOptions{Tail: -1})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Empty(); got != tc.want {
			t.Errorf("%s run %d: Empty = %v, want %v", tc.dir, tc.run, got, tc.want)
		}
		s.Close()
	}
}

// TestTail: the termination message's tail reaches back into the run's
// rotated files, ignores other runs, and drops a line cut by the read
// window.
func TestTail(t *testing.T) {
	dir := t.TempDir()
	a, _ := records("stderr", 1, 3)
	b, _ := records("stderr", 4, 5)
	appendFile(t, filepath.Join(dir, "1.log.20260101-000000.000000000"), a)
	appendFile(t, filepath.Join(dir, "1.log"), b)
	c, _ := records("stderr", 6, 6)
	appendFile(t, filepath.Join(dir, "2.log"), c)
	// A run whose rotated file holds more than the read window.
	big := strings.Repeat(cri(0, "stdout", "F", strings.Repeat("z", 1000)), tailRead/1000+2)
	appendFile(t, filepath.Join(dir, "3.log.20260101-000000.000000000"), cri(0, "stdout", "F", "first"))
	appendFile(t, filepath.Join(dir, "3.log.20260101-000001.000000000"), big)
	appendFile(t, filepath.Join(dir, "3.log"), cri(0, "stdout", "F", "last"))
	for _, tc := range []struct {
		name     string
		path     string
		lines    int
		bytes    int
		want     string
		wantPart string
	}{
		{name: "across rotation", path: "1.log", lines: 80, bytes: 2048, want: "line 1\nline 2\nline 3\nline 4\nline 5\n"},
		{name: "line bound", path: "1.log", lines: 2, bytes: 2048, want: "line 4\nline 5\n"},
		{name: "byte bound", path: "1.log", lines: 80, bytes: 9, want: "4\nline 5\n"},
		{name: "no files yet", path: "7.log", lines: 80, bytes: 2048, want: ""},
		{name: "read window", path: "3.log", lines: 1000, bytes: 1 << 20, wantPart: "last"},
	} {
		got, err := Tail(filepath.Join(dir, tc.path), tc.lines, tc.bytes)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.wantPart != "" {
			if !strings.HasSuffix(got, "z\nlast\n") || strings.Contains(got, "first") || strings.Count(got, "\n") > tailRead/1000 {
				t.Errorf("%s: %d bytes ending %q: want whole lines of the window's end only", tc.name, len(got), got[max(len(got)-20, 0):])
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := Tail(filepath.Join(dir, "infra.log"), 80, 2048); err == nil {
		t.Error("a path that names no run's log was taken")
	}
	if err := unix.Mkfifo(filepath.Join(dir, "4.log"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Tail(filepath.Join(dir, "4.log"), 80, 2048); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a fifo in a log's place: %v, want refused without blocking", err)
	}
}
