package reconciler

import (
	"testing"

	"github.com/berth-project/berth/manifests"
)

func TestSpecMemo(t *testing.T) {
	a, b, c := &manifests.Pod{}, &manifests.Pod{}, &manifests.Pod{}
	calls := 0
	m := specMemo{compare: func(x, y *manifests.Pod) bool { calls++; return x == a && y == b }}

	// First pass: each pair compared once, however often it is asked.
	if !m.equal(a, b) || !m.equal(a, b) || m.equal(a, c) {
		t.Fatal("memo changed an answer")
	}
	if calls != 2 {
		t.Fatalf("first pass: %d comparisons, want 2", calls)
	}
	m.endPass()

	// Second pass: pairs of the last pass are remembered; a new one is
	// compared.
	if !m.equal(a, b) || m.equal(c, b) {
		t.Fatal("memo changed an answer")
	}
	if calls != 3 {
		t.Fatalf("second pass: %d comparisons in all, want 3", calls)
	}
	m.endPass()

	// Third pass: (a, c) was not asked in the second pass and is forgotten.
	m.equal(a, c)
	if calls != 4 {
		t.Fatalf("third pass: %d comparisons in all, want 4 (a forgotten pair is compared again)", calls)
	}
}

func TestSpecEqualSamePod(t *testing.T) {
	p := &manifests.Pod{}
	if !manifests.SpecEqual(p, p) {
		t.Fatal("a pod differs from itself")
	}
}
