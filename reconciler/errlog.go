package reconciler

import "time"

// errorLog rate-limits logging of repeated failures: the first occurrence
// of an error text for a pod is logged, repeats of the same text only
// every interval, and a different text at once.
type errorLog struct {
	interval time.Duration
	last     map[PodKey]errorEntry
}

type errorEntry struct {
	text    string
	logged  time.Time
	repeats int
}

func newErrorLog(interval time.Duration) *errorLog {
	return &errorLog{interval: interval, last: map[PodKey]errorEntry{}}
}

// repeats returns how many times text has been seen for key since it was
// last logged.
func (l *errorLog) repeats(key PodKey, text string) int {
	if e, ok := l.last[key]; ok && e.text == text {
		return e.repeats
	}
	return 0
}

// shouldLog records an occurrence of text for key and reports whether to
// log it now.
func (l *errorLog) shouldLog(key PodKey, text string, now time.Time) bool {
	e, ok := l.last[key]
	if ok && e.text == text && now.Sub(e.logged) < l.interval {
		e.repeats++
		l.last[key] = e
		return false
	}
	l.last[key] = errorEntry{text: text, logged: now}
	return true
}

// keepOnly forgets every pod not in keys (they succeeded or have nothing
// to do any more).
func (l *errorLog) keepOnly(keys map[PodKey]bool) {
	for k := range l.last {
		if !keys[k] {
			delete(l.last, k)
		}
	}
}
