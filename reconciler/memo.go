package reconciler

import "github.com/berth-project/berth/manifests"

// specMemo remembers manifests.SpecEqual's answers by the pair of pods
// compared. A parsed pod is never modified (an update builds a new one),
// and pass after pass the loader hands back the same pods for unchanged
// files and the runtime the same records, so a no-op pass compares each
// pod once instead of every time: after a daemon restart, when no pointer
// is shared, a full comparison costs about 60 µs a pod (JSON copies of
// both specs). Pairs not seen in a pass are forgotten at its end.
type specMemo struct {
	compare   func(a, b *manifests.Pod) bool // manifests.SpecEqual
	last, cur map[[2]*manifests.Pod]bool
}

// equal is compare, memoised.
func (m *specMemo) equal(a, b *manifests.Pod) bool {
	k := [2]*manifests.Pod{a, b}
	eq, ok := m.cur[k]
	if !ok {
		if eq, ok = m.last[k]; !ok {
			eq = m.compare(a, b)
		}
	}
	if m.cur == nil {
		m.cur = map[[2]*manifests.Pod]bool{}
	}
	m.cur[k] = eq
	return eq
}

// endPass forgets the pairs the pass did not compare.
func (m *specMemo) endPass() {
	m.last, m.cur = m.cur, nil
}
