package infra

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRunLogFiles(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		run   int
		want  []string
	}{
		{"current only", []string{"0.log"}, 0, []string{"0.log"}},
		{"none", []string{"1.log"}, 0, nil},
		{
			"rotated by time, then current; other runs and names ignored",
			[]string{
				"2.log", "2.log.20260102-150405.000000002", "2.log.20260102-150405.000000001",
				"12.log", "2.log.junk", "2.log.20260101-000000.000000000", "3.log.20260101-000000.000000000", ".2.log.tmp",
			},
			2,
			[]string{"2.log.20260101-000000.000000000", "2.log.20260102-150405.000000001", "2.log.20260102-150405.000000002", "2.log"},
		},
		{
			"rotation under way: no current file yet",
			[]string{"0.log.20260102-150405.000000000"}, 0,
			[]string{"0.log.20260102-150405.000000000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RunLogFiles(tt.names, tt.run); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RunLogFiles = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanRotation(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.FixedZone("CET", 3600))
	tests := []struct {
		name       string
		rotated    []string
		maxFiles   int
		wantName   string
		wantRemove []string
	}{
		{"first rotation, UTC name", nil, 5, "0.log.20260102-140405.123456789", nil},
		{
			"keeps maxFiles-1 rotated files",
			[]string{"0.log.20260101-000000.000000000", "0.log.20260101-000001.000000000", "0.log.20260101-000002.000000000", "0.log.20260101-000003.000000000"},
			5, "0.log.20260102-140405.123456789",
			[]string{"0.log.20260101-000000.000000000"},
		},
		{
			"two files: only the newest rotated one stays",
			[]string{"0.log.20260101-000000.000000000"},
			2, "0.log.20260102-140405.123456789",
			[]string{"0.log.20260101-000000.000000000"},
		},
		{
			"clock stepped back: the name still sorts last",
			[]string{"0.log.20260103-000000.000000000"},
			5, "0.log.20260103-000000.000000001", nil,
		},
		{
			"same nanosecond as the last rotation",
			[]string{"0.log.20260102-140405.123456789"},
			5, "0.log.20260102-140405.123456790", nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, remove := planRotation(tt.rotated, 0, now, tt.maxFiles)
			if name != tt.wantName || !reflect.DeepEqual(remove, tt.wantRemove) {
				t.Errorf("planRotation = %q, %q; want %q, %q", name, remove, tt.wantName, tt.wantRemove)
			}
		})
	}
}

func TestParseCRI(t *testing.T) {
	ts := time.Date(2026, 1, 2, 15, 4, 5, 100, time.UTC)
	tests := []struct {
		line string
		want LogRecord
		err  bool
	}{
		{line: "2026-01-02T15:04:05.000000100Z stdout F hello world\n", want: LogRecord{Time: ts, Stream: StreamStdout, Text: []byte("hello world")}},
		{line: "2026-01-02T15:04:05.0000001Z stderr P part", want: LogRecord{Time: ts, Stream: StreamStderr, Partial: true, Text: []byte("part")}},
		{line: "2026-01-02T15:04:05.0000001Z stdout F", want: LogRecord{Time: ts, Stream: StreamStdout, Text: []byte{}}},
		{line: "2026-01-02T15:04:05.0000001Z stdout F ", want: LogRecord{Time: ts, Stream: StreamStdout, Text: []byte{}}},
		{line: "2026-01-02T15:04:05.0000001Z stdout F:x=y  two spaces", want: LogRecord{Time: ts, Stream: StreamStdout, Text: []byte(" two spaces")}},
		{line: "2026-01-02T16:04:05.0000001+01:00 stdout F zone", want: LogRecord{Time: ts, Stream: StreamStdout, Text: []byte("zone")}},
		{line: "", err: true},
		{line: "garbage", err: true},
		{line: "2026-01-02T15:04:05Z stdin F x", err: true},
		{line: "2026-01-02T15:04:05Z stdout X x", err: true},
		{line: "2026-01-02T15:04:05Z stdout", err: true},
		{line: "yesterday stdout F x", err: true},
	}
	for _, tt := range tests {
		got, err := ParseCRI([]byte(tt.line))
		if tt.err {
			if !errors.Is(err, ErrBadRecord) {
				t.Errorf("ParseCRI(%q) error = %v, want ErrBadRecord", tt.line, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCRI(%q): %v", tt.line, err)
			continue
		}
		if !got.Time.Equal(tt.want.Time) || got.Stream != tt.want.Stream || got.Partial != tt.want.Partial || string(got.Text) != string(tt.want.Text) {
			t.Errorf("ParseCRI(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestParseCRIRoundTrip(t *testing.T) {
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	rec := appendCRI(nil, at, StreamStderr, true, []byte("a b\tc"))
	got, err := ParseCRI(rec)
	if err != nil || !got.Time.Equal(at) || got.Stream != StreamStderr || !got.Partial || string(got.Text) != "a b\tc" {
		t.Fatalf("round trip of %q = %+v, %v", rec, got, err)
	}
}
