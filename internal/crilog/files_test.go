package crilog

import (
	"reflect"
	"testing"
	"time"
)

func TestRunFiles(t *testing.T) {
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
			if got := RunFiles(tt.names, tt.run); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RunFiles = %q, want %q", got, tt.want)
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

func TestRunOf(t *testing.T) {
	tests := []struct {
		name string
		run  int
		ok   bool
	}{
		{"0.log", 0, true},
		{"12.log", 12, true},
		{"12.log.20260102-150405.000000000", 0, false},
		{"-1.log", 0, false},
		{"01.log", 0, false},
		{"+1.log", 0, false},
		{"x.log", 0, false},
		{"infra.log", 0, false},
		{"3", 0, false},
	}
	for _, tt := range tests {
		if run, ok := runOf(tt.name); run != tt.run || ok != tt.ok {
			t.Errorf("runOf(%q) = %d, %v; want %d, %v", tt.name, run, ok, tt.run, tt.ok)
		}
	}
}

func TestLastRun(t *testing.T) {
	for _, tc := range []struct {
		names []string
		run   int
		ok    bool
	}{
		{nil, 0, false},
		{[]string{"0.log"}, 0, true},
		{[]string{"2.log", "10.log", "9.log"}, 10, true},
		{[]string{"3.log.20260101-000000.000000000", "1.log", "x.log", "02.log", "-1.log"}, 1, true},
		{[]string{"3.log.20260101-000000.000000000"}, 0, false},
	} {
		if run, ok := LastRun(tc.names); run != tc.run || ok != tc.ok {
			t.Errorf("LastRun(%q) = %d, %v; want %d, %v", tc.names, run, ok, tc.run, tc.ok)
		}
	}
}
