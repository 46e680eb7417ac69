package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", []float64{5}, Summary{N: 1, Median: 5, P90: 5, Min: 5, Max: 5}},
		{"even", []float64{4, 1, 3, 2}, Summary{N: 4, Median: 2.5, P90: 4, Min: 1, Max: 4}},
		{"ten", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, Summary{N: 10, Median: 5.5, P90: 9, Min: 1, Max: 10}},
		{"odd", []float64{3, 1, 2}, Summary{N: 3, Median: 2, P90: 3, Min: 1, Max: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); got != tt.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestPairRatios(t *testing.T) {
	tests := []struct {
		name     string
		num, den []float64
		want     []float64
	}{
		{"pairwise", []float64{10, 20}, []float64{1, 4}, []float64{10, 5}},
		{"shorter den", []float64{10, 20, 30}, []float64{2}, []float64{5}},
		{"zero den skipped", []float64{10, 20}, []float64{0, 2}, []float64{10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PairRatios(tt.num, tt.den)
			if len(got) != len(tt.want) {
				t.Fatalf("PairRatios = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("PairRatios[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestRecordRatiosArePairwise(t *testing.T) {
	s := &Scenario{Name: "start-1", Unit: "ms"}
	for _, v := range [][3]float64{{10, 200, 5}, {20, 100, 4}} {
		s.add("berth", v[0])
		s.add("podman", v[1])
		s.add("floor", v[2])
	}
	r := s.Record()
	// Pairs: 200/10=20, 100/20=5 (a ratio of medians would give 10).
	if got := r.Ratios["podman/berth"]; got.Median != 12.5 || got.Min != 5 || got.Max != 20 {
		t.Errorf("podman/berth = %+v", got)
	}
	if got := r.Ratios["berth/floor"]; got.Median != 3.5 {
		t.Errorf("berth/floor = %+v", got)
	}
	table := Table([]Record{r})
	for _, want := range []string{"podman/berth", "12.50x", "berth/floor"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestRecordWithoutPeerHasNoRatio(t *testing.T) {
	s := &Scenario{Name: "restart", Unit: "ms"}
	s.add("berth", 3)
	if r := s.Record(); r.Ratios != nil {
		t.Errorf("ratios = %v, want none", r.Ratios)
	}
}
