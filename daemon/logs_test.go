package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/manifests"
)

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// cri makes a CRI record at t0+sec seconds.
func cri(sec int, stream, tag, text string) string {
	return fmt.Sprintf("%s %s %s %s\n", t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339Nano), stream, tag, text)
}

func TestLineWriter(t *testing.T) {
	records := cri(0, "stdout", "F", "one") +
		cri(1, "stdout", "P", "tw") +
		cri(2, "stderr", "F", "err between") +
		cri(3, "stdout", "P", "o ") +
		"torn garbage line\n" +
		cri(4, "stdout", "F", "parts") +
		cri(5, "stderr", "F", "") +
		cri(6, "stdout", "F", "last")
	tests := []struct {
		name       string
		timestamps bool
		since      time.Time
		skip       int
		want       string
	}{
		{name: "text only, P joined per stream", want: "one\nerr between\ntwo parts\n\nlast\n"},
		{
			name: "timestamps: RFC3339Nano of the line's first record", timestamps: true,
			want: "2026-01-02T15:04:05Z one\n2026-01-02T15:04:07Z err between\n2026-01-02T15:04:06Z two parts\n2026-01-02T15:04:10Z \n2026-01-02T15:04:11Z last\n",
		},
		{name: "since drops older lines by their first record", since: t0.Add(2 * time.Second), want: "err between\n\nlast\n"},
		{name: "since inside a joined line keeps none of it", since: t0.Add(1500 * time.Millisecond), want: "err between\n\nlast\n"},
		{name: "skip (tail) counts joined lines", skip: 3, want: "\nlast\n"},
		{name: "skip then since", skip: 1, since: t0.Add(5 * time.Second), want: "\nlast\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			lw := &lineWriter{w: &out, timestamps: tt.timestamps, since: tt.since, skip: tt.skip}
			for _, line := range strings.SplitAfter(records, "\n") {
				if line == "" {
					continue
				}
				if err := lw.record([]byte(line)); err != nil {
					t.Fatal(err)
				}
			}
			if out.String() != tt.want {
				t.Errorf("got\n%q\nwant\n%q", out.String(), tt.want)
			}
		})
	}
}

func TestLineWriterBoundsJoinedLines(t *testing.T) {
	var out bytes.Buffer
	lw := &lineWriter{w: &out}
	chunk := strings.Repeat("x", 16<<10)
	for range (maxJoined / len(chunk)) + 4 {
		if err := lw.record([]byte(cri(0, "stdout", "P", chunk))); err != nil {
			t.Fatal(err)
		}
	}
	if err := lw.record([]byte(cri(0, "stdout", "F", "end"))); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || len(lines[0]) > maxJoined || !strings.HasSuffix(lines[1], "end") {
		t.Fatalf("got %d lines of lengths %d..., want a bounded line and the rest", len(lines), len(lines[0]))
	}
}

func TestTailPlan(t *testing.T) {
	tests := []struct {
		counts          []int
		n               int
		first, wantSkip int
	}{
		{[]int{10}, 3, 0, 7},
		{[]int{10}, 10, 0, 0},
		{[]int{10}, 50, 0, 0},
		{[]int{10, 10, 5}, 5, 2, 0},
		{[]int{10, 10, 5}, 6, 1, 9},
		{[]int{10, 10, 5}, 25, 0, 0},
		{[]int{10, 10, 5}, 0, 2, 5},
		{[]int{10, 0}, 3, 0, 7},
		{nil, 3, 0, 0},
	}
	for _, tt := range tests {
		first, skip := tailPlan(tt.counts, tt.n)
		if first != tt.first || skip != tt.wantSkip {
			t.Errorf("tailPlan(%v, %d) = %d, %d; want %d, %d", tt.counts, tt.n, first, skip, tt.first, tt.wantSkip)
		}
	}
}

func TestNextFile(t *testing.T) {
	files := []fileEntry{{"0.log.a", 1}, {"0.log.b", 2}, {"0.log", 3}}
	tests := []struct {
		name      string
		files     []fileEntry
		cur       uint64
		next      int
		wantEnded bool
	}{
		{"rotated file: the next one", files, 1, 1, false},
		{"newest rotated: the current file", files, 2, 2, false},
		{"current file complete: run ended", files, 3, -1, true},
		{"rotated, new current not there yet", files[:2], 2, -1, false},
		{"deleted by the file count: oldest left", files[1:], 1, 0, false},
		{"directory gone", nil, 3, -1, false},
	}
	for _, tt := range tests {
		next, ended := nextFile(tt.files, tt.cur, "0.log")
		if next != tt.next || ended != tt.wantEnded {
			t.Errorf("%s: nextFile = %d, %v; want %d, %v", tt.name, next, ended, tt.next, tt.wantEnded)
		}
	}
}

func testPod(ctrs []string, inits ...string) api.Pod {
	p := api.Pod{Metadata: api.ObjectMeta{ObjectMeta: manifests.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}}}
	for _, c := range ctrs {
		p.Spec.Containers = append(p.Spec.Containers, manifests.Container{Name: c})
	}
	for _, c := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, manifests.Container{Name: c})
	}
	return p
}

func TestPickContainer(t *testing.T) {
	tests := []struct {
		name, ask string
		pod       api.Pod
		want      string
		wantErr   string
	}{
		{name: "one container, none named", pod: testPod([]string{"a"}), want: "a"},
		{name: "named", ask: "b", pod: testPod([]string{"a", "b"}), want: "b"},
		{name: "init container named", ask: "i", pod: testPod([]string{"a"}, "i"), want: "i"},
		{name: "several, none named", pod: testPod([]string{"a", "b"}), wantErr: "a container name must be specified for pod web, choose one of: [a b]"},
		{name: "several with inits", pod: testPod([]string{"a", "b"}, "i"), wantErr: "choose one of: [a b] or one of the init containers: [i]"},
		{name: "unknown", ask: "z", pod: testPod([]string{"a"}), wantErr: "container z is not valid for pod web"},
	}
	for _, tt := range tests {
		got, err := pickContainer(tt.pod, tt.ask)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, api.ErrBadRequest) {
				t.Errorf("%s: error %v, want %q (bad request)", tt.name, err, tt.wantErr)
			}
		case err != nil || got != tt.want:
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestPickRun(t *testing.T) {
	p := testPod([]string{"a"})
	tests := []struct {
		restarts int32
		noStatus bool
		previous bool
		want     int
		wantErr  bool
	}{
		{restarts: 0, want: 0},
		{restarts: 3, want: 3},
		{restarts: 3, previous: true, want: 2},
		{restarts: 0, previous: true, wantErr: true},
		{noStatus: true, want: 0},
		{noStatus: true, previous: true, wantErr: true},
	}
	for _, tt := range tests {
		var st *api.ContainerStatus
		if !tt.noStatus {
			st = &api.ContainerStatus{Name: "a", RestartCount: tt.restarts}
		}
		got, err := pickRun(p, "a", st, tt.previous)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), `previous terminated container "a" in pod "web" not found`) {
				t.Errorf("%+v: error %v", tt, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%+v: got %d, %v; want %d", tt, got, err, tt.want)
		}
	}
}

func TestLineReaderKeepsUnfinishedLine(t *testing.T) {
	var src bytes.Buffer
	lr := newLineReader(iotest.OneByteReader(&src))
	src.WriteString("first\nsec")
	if line, err := lr.next(); err != nil || string(line) != "first" {
		t.Fatalf("got %q, %v", line, err)
	}
	if line, err := lr.next(); err == nil {
		t.Fatalf("an unfinished line came out: %q", line)
	}
	src.WriteString("ond\n")
	if line, err := lr.next(); err != nil || string(line) != "second" {
		t.Fatalf("got %q, %v; want the line completed", line, err)
	}
}

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

// TestLogStreamFollow plays the infra's part by hand: lines appended, a
// rotation (rename, fresh file, old one marked complete), the end of run 0,
// run 1's file; the follower prints every line once, in order, and ends when
// the container has terminated for good.
func TestLogStreamFollow(t *testing.T) {
	dir := t.TempDir()
	cur := filepath.Join(dir, "0.log")
	a, want := records("stdout", 1, 3)
	appendFile(t, cur, a)
	var mu sync.Mutex
	restarts, final := 0, false
	s := &logStream{dir: dir, run: 0, tail: -1, follow: true, state: func(context.Context) (int, bool, bool) {
		mu.Lock()
		defer mu.Unlock()
		return restarts, final, true
	}}
	var err error
	if s.files, err = openRun(dir, 0); err != nil {
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
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not end after the container terminated for good")
	}
	if !seen(want)() {
		t.Fatalf("output\n%s\nwant\n%s", out.String(), strings.Join(want, "\n"))
	}
}

func TestLogStreamTailAcrossFiles(t *testing.T) {
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
		s := &logStream{dir: dir, run: 2, tail: tt.tail}
		var err error
		if s.files, err = openRun(dir, 2); err != nil {
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
