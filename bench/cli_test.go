package main

import "testing"

func TestParseInitTrace(t *testing.T) {
	trace := "init internal/bytealg @0.12 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"berth dev go1.26.8 linux/amd64\n" +
		"init net/http @1.2 ms, 0.032 ms clock, 4712 bytes, 49 allocs\n" +
		"init gopkg.in/yaml%2ev3 @1.5 ms, 0.17 ms clock, 25720 bytes, 276 allocs\n"
	got, err := parseInitTrace(trace)
	if err != nil {
		t.Fatal(err)
	}
	if got.packages != 3 || got.bytes != 4712+25720 || got.ms < 0.2019 || got.ms > 0.2021 || got.end < 1.6699 || got.end > 1.6701 {
		t.Errorf("parseInitTrace = %+v; want 3 packages, 0.202 ms, ending at 1.67 ms, %d bytes", got, 4712+25720)
	}
	for _, bad := range []string{"", "no trace here\n", "init x @1 ms, abc ms clock, 1 bytes, 1 allocs\n", "init x @y ms, 1 ms clock, 1 bytes, 1 allocs\n"} {
		if got, err := parseInitTrace(bad); err == nil {
			t.Errorf("parseInitTrace(%q) = %+v; want an error", bad, got)
		}
	}
}
