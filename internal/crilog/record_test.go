package crilog

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppendRecord(t *testing.T) {
	ts := time.Date(2026, 1, 2, 15, 4, 5, 7000, time.FixedZone("x", 3600))
	tests := []struct {
		stream  string
		partial bool
		text    string
		want    string
	}{
		{Stdout, false, "hello", "2026-01-02T14:04:05.000007000Z stdout F hello\n"},
		{Stderr, true, "part", "2026-01-02T14:04:05.000007000Z stderr P part\n"},
		{Stdout, false, "", "2026-01-02T14:04:05.000007000Z stdout F \n"},
	}
	for _, tt := range tests {
		if got := string(appendRecord(nil, ts, tt.stream, tt.partial, []byte(tt.text))); got != tt.want {
			t.Errorf("appendRecord(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestCopy(t *testing.T) {
	ts := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	const prefix = "2026-01-02T15:04:05.000000000Z stdout "
	long := strings.Repeat("x", MaxRecordText+10)
	tests := []struct {
		name, in string
		want     []string
	}{
		{"lines", "a\nb\n", []string{"F a", "F b"}},
		{"no trailing newline", "a\nb", []string{"F a", "F b"}},
		{"empty line", "\n", []string{"F "}},
		{"long line split", long + "\nz\n", []string{"P " + long[:MaxRecordText], "F " + long[MaxRecordText:], "F z"}},
		{"nothing", "", nil},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := Copy(&out, strings.NewReader(tt.in), Stdout, func() time.Time { return ts }); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var want strings.Builder
		for _, w := range tt.want {
			want.WriteString(prefix + w + "\n")
		}
		if out.String() != want.String() {
			t.Errorf("%s: got %q, want %q", tt.name, trunc(out.String()), trunc(want.String()))
		}
	}
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:100] + "..." + s[len(s)-100:]
	}
	return s
}

func TestParse(t *testing.T) {
	ts := time.Date(2026, 1, 2, 15, 4, 5, 100, time.UTC)
	tests := []struct {
		line string
		want Record
		err  bool
	}{
		{line: "2026-01-02T15:04:05.000000100Z stdout F hello world\n", want: Record{Time: ts, Stream: Stdout, Text: []byte("hello world")}},
		{line: "2026-01-02T15:04:05.0000001Z stderr P part", want: Record{Time: ts, Stream: Stderr, Partial: true, Text: []byte("part")}},
		{line: "2026-01-02T15:04:05.0000001Z stdout F", want: Record{Time: ts, Stream: Stdout, Text: []byte{}}},
		{line: "2026-01-02T15:04:05.0000001Z stdout F ", want: Record{Time: ts, Stream: Stdout, Text: []byte{}}},
		{line: "2026-01-02T15:04:05.0000001Z stdout F:x=y  two spaces", want: Record{Time: ts, Stream: Stdout, Text: []byte(" two spaces")}},
		{line: "2026-01-02T16:04:05.0000001+01:00 stdout F zone", want: Record{Time: ts, Stream: Stdout, Text: []byte("zone")}},
		{line: "", err: true},
		{line: "garbage", err: true},
		{line: "2026-01-02T15:04:05Z stdin F x", err: true},
		{line: "2026-01-02T15:04:05Z stdout X x", err: true},
		{line: "2026-01-02T15:04:05Z stdout", err: true},
		{line: "yesterday stdout F x", err: true},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.line))
		if tt.err {
			if !errors.Is(err, ErrBadRecord) {
				t.Errorf("Parse(%q) error = %v, want ErrBadRecord", tt.line, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.line, err)
			continue
		}
		if !got.Time.Equal(tt.want.Time) || got.Stream != tt.want.Stream || got.Partial != tt.want.Partial || string(got.Text) != string(tt.want.Text) {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	rec := appendRecord(nil, at, Stderr, true, []byte("a b\tc"))
	got, err := Parse(rec)
	if err != nil || !got.Time.Equal(at) || got.Stream != Stderr || !got.Partial || string(got.Text) != "a b\tc" {
		t.Fatalf("round trip of %q = %+v, %v", rec, got, err)
	}
}
