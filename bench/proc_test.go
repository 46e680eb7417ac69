package main

import (
	"testing"
	"time"
)

func TestParseSmapsRollup(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    memUsage
		wantErr bool
	}{
		{"real", "55d0-7ffd ---p 00000000 00:00 0   [rollup]\nRss:                1536 kB\nPss:                 812 kB\nPss_Anon:            600 kB\n", memUsage{RSS: 1536, PSS: 812}, false},
		{"missing pss", "Rss: 10 kB\n", memUsage{}, true},
		{"garbage", "Rss: x kB\nPss: 1 kB\n", memUsage{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSmapsRollup(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseMemAvailable(t *testing.T) {
	got, err := parseMemAvailable("MemTotal: 4000 kB\nMemFree: 100 kB\nMemAvailable:    2048 kB\n")
	if err != nil || got != 2048 {
		t.Fatalf("got %d, %v", got, err)
	}
	if _, err := parseMemAvailable("MemTotal: 1 kB\n"); err == nil {
		t.Fatal("want error without MemAvailable")
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{"plain", "42 (berth) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 5 2 20 0 1 0 500 1000 200", procStat{"berth", 1, 10, 7}, false},
		{"comm with ) and space", "7 (a) b) R 5 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 1 1", procStat{"a) b", 5, 3, 0}, false},
		{"short", "7 (x) R 1 2", procStat{}, true},
		{"no child times", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 1 2", procStat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePodTiming(t *testing.T) {
	line := `time=2026-11-22T03:00:00Z level=INFO msg="pod created" pod=default/web total=41.5ms images=12µs volumes=1.2ms cgroups=3ms infra=10ms network=15ms containers=12ms`
	got, ok := parsePodTiming(line)
	if !ok || got.Pod != "default/web" {
		t.Fatalf("got %+v, %v", got, ok)
	}
	if got.Phases["total"] != 41500*time.Microsecond || got.Phases["network"] != 15*time.Millisecond || got.Phases["images"] != 12*time.Microsecond {
		t.Errorf("phases = %v", got.Phases)
	}
	if _, ok := parsePodTiming(`level=INFO msg="pod reconciled" pod=x`); ok {
		t.Error("other lines must not parse")
	}
}

func TestParseSchedstat(t *testing.T) {
	if got, err := parseSchedstat("123456789 88938 1\n"); err != nil || got != 123456789 {
		t.Fatalf("got %d, %v", got, err)
	}
	if _, err := parseSchedstat(""); err == nil {
		t.Fatal("want error on empty")
	}
}

func TestCatchesSignal(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    bool
		wantErr bool
	}{
		{"go program with handlers", "Name:\tdemo\nSigCgt:\tfffffffe7fc1feff\n", true, false},
		{"SIGTERM only", "SigCgt:\t0000000000004000\n", true, false},
		{"still starting", "SigCgt:\t0000000000000000\n", false, false},
		{"no line", "Name:\tx\n", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := catchesSignal(tt.status, 15)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %v, %v; want %v (err %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseVmHWM(t *testing.T) {
	for in, want := range map[string]int64{
		"Name:\tberth\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n": 12345,
		"Name:\tzombie\nState:\tZ (zombie)\n":                                     -1,
		"VmHWM:\t12 MB\n":                                                         -1,
	} {
		got, ok := parseVmHWM(in)
		if (want >= 0) != ok || (ok && got != want) {
			t.Errorf("parseVmHWM(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}
