package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Summary describes a set of samples of one quantity.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Summarize computes n, median, p90 (nearest rank), min and max; an empty
// slice gives the zero Summary.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	var med float64
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	// Nearest-rank p90: the smallest value with at least 90% of the
	// samples at or below it.
	rank := int(math.Ceil(0.9*float64(n))) - 1
	return Summary{N: n, Median: med, P90: s[rank], Min: s[0], Max: s[n-1]}
}

// PairRatios divides num[i] by den[i] for every pair both slices have:
// runs are interleaved (berth, podman, berth, ...), so pair i saw the same
// machine load. Pairs with a zero denominator are skipped.
func PairRatios(num, den []float64) []float64 {
	n := min(len(num), len(den))
	out := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		if den[i] != 0 {
			out = append(out, num[i]/den[i])
		}
	}
	return out
}

// Series is the samples of one subject (berth, podman, floor) in a scenario.
type Series struct {
	Subject string
	Samples []float64
}

// Scenario is the outcome of one scenario: its series, in the units named,
// plus notes (context figures that are not samples).
type Scenario struct {
	Name   string
	Unit   string
	Series []Series
	Notes  map[string]any
}

func (s *Scenario) add(subject string, v float64) {
	for i := range s.Series {
		if s.Series[i].Subject == subject {
			s.Series[i].Samples = append(s.Series[i].Samples, v)
			return
		}
	}
	s.Series = append(s.Series, Series{Subject: subject, Samples: []float64{v}})
}

func (s *Scenario) note(key string, v any) {
	if s.Notes == nil {
		s.Notes = map[string]any{}
	}
	s.Notes[key] = v
}

func (s *Scenario) samples(subject string) []float64 {
	for _, se := range s.Series {
		if se.Subject == subject {
			return se.Samples
		}
	}
	return nil
}

// ratioPairs are the comparisons reported when both series exist: how many
// times slower podman is than berth, berth than the kernel floor, and
// berth's replace of a pod than its in-place update of it.
var ratioPairs = [][2]string{{"podman", "berth"}, {"berth", "floor"}, {"berth-replace", "berth"}}

// Record is the JSON line printed for a scenario.
type Record struct {
	Scenario string             `json:"scenario"`
	Unit     string             `json:"unit"`
	Subjects map[string]Summary `json:"subjects"`
	// Ratios are summaries of pair-by-pair ratios, keyed "podman/berth",
	// "berth/floor" and "berth-replace/berth".
	Ratios map[string]Summary `json:"ratios,omitempty"`
	Notes  map[string]any     `json:"notes,omitempty"`
}

// Record summarises the scenario for its JSON line.
func (s *Scenario) Record() Record {
	r := Record{Scenario: s.Name, Unit: s.Unit, Subjects: map[string]Summary{}, Notes: s.Notes}
	for _, se := range s.Series {
		r.Subjects[se.Subject] = Summarize(se.Samples)
	}
	for _, p := range ratioPairs {
		num, den := s.samples(p[0]), s.samples(p[1])
		if len(num) == 0 || len(den) == 0 {
			continue
		}
		if r.Ratios == nil {
			r.Ratios = map[string]Summary{}
		}
		r.Ratios[p[0]+"/"+p[1]] = Summarize(PairRatios(num, den))
	}
	return r
}

// Table renders records as a fixed-width text table, one row per subject
// and one per ratio.
func Table(recs []Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %-14s %4s %10s %10s %10s %10s\n", "scenario", "subject", "n", "median", "p90", "min", "max")
	row := func(scn, subj string, s Summary, unit string) {
		fmt.Fprintf(&b, "%-22s %-14s %4d %10s %10s %10s %10s\n", scn, subj, s.N,
			num(s.Median, unit), num(s.P90, unit), num(s.Min, unit), num(s.Max, unit))
	}
	for _, r := range recs {
		for _, subj := range sortedKeys(r.Subjects) {
			row(r.Scenario, subj, r.Subjects[subj], r.Unit)
		}
		for _, k := range sortedKeys(r.Ratios) {
			row(r.Scenario, k, r.Ratios[k], "x")
		}
	}
	return b.String()
}

func num(v float64, unit string) string {
	switch {
	case unit == "x":
		return fmt.Sprintf("%.2fx", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f%s", v, unit)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f%s", v, unit)
	default:
		return fmt.Sprintf("%.2f%s", v, unit)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
