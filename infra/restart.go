package infra

import "time"

// ShouldRestart decides whether a container that exited with exitCode is
// started again. An init container must complete: it is retried after a
// failure unless the policy is Never, and never re-run after success.
func ShouldRestart(policy string, exitCode int, isInit bool) bool {
	switch policy {
	case RestartAlways:
		return !isInit || exitCode != 0
	case RestartOnFailure:
		return exitCode != 0
	default:
		return false
	}
}

// Backoff is the delay before the next restart, given the previous delay
// (0 for none yet) and how long the last run lasted: Initial, doubling up to
// Max, and Initial again after a run of at least ResetAfter.
func Backoff(prev, ranFor time.Duration, cfg BackoffConfig) time.Duration {
	if prev <= 0 || ranFor >= cfg.ResetAfter {
		return cfg.Initial
	}
	if prev >= cfg.Max/2 {
		return cfg.Max
	}
	return prev * 2
}
