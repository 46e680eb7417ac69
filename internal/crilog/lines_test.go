package crilog

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// cri makes a CRI record at t0+sec seconds.
func cri(sec int, stream, tag, text string) string {
	return fmt.Sprintf("%s %s %s %s\n", t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339Nano), stream, tag, text)
}

func TestPrinter(t *testing.T) {
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
			lw := &printer{w: &out, timestamps: tt.timestamps, since: tt.since, skip: tt.skip}
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

func TestPrinterBoundsJoinedLines(t *testing.T) {
	var out bytes.Buffer
	lw := &printer{w: &out}
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

func criLines(t0 time.Time, texts ...string) []byte {
	var b []byte
	for i, tx := range texts {
		partial := strings.HasSuffix(tx, "\\")
		b = appendRecord(b, t0.Add(time.Duration(i)), Stderr, partial, []byte(strings.TrimSuffix(tx, "\\")))
	}
	return b
}

func TestTailText(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var many []string
	for i := 1; i <= 100; i++ {
		many = append(many, fmt.Sprintf("line %d", i))
	}
	var want80 strings.Builder
	for i := 21; i <= 100; i++ {
		fmt.Fprintf(&want80, "line %d\n", i)
	}
	long := strings.Repeat("y", 3000)
	for _, tc := range []struct {
		name  string
		raw   []byte
		whole bool
		want  string
	}{
		{"empty", nil, true, ""},
		{"lines", criLines(t0, "a", "b"), true, "a\nb\n"},
		{"partial records join", criLines(t0, "ab\\", "cd", "e\\"), true, "abcd\ne"},
		{"last 80 lines", criLines(t0, many...), true, want80.String()},
		{"last 2 KiB", criLines(t0, long), true, long[len(long)-2047:] + "\n"},
		{"cut first line dropped", criLines(t0, "a", "b")[5:], false, "b\n"},
		{"bad records skipped", append([]byte("garbage\n"), criLines(t0, "ok")...), true, "ok\n"},
	} {
		if got := tailText(tc.raw, tc.whole, 80, 2<<10); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
