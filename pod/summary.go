package pod

// Summary counts the pods as the manager holds them, without asking any
// infra: what the daemon's one-line status (systemd's STATUS=) says.
type Summary struct {
	// Running are the pods made and not ended; Failing the pods whose
	// last create failed and those ended Failed when their infra died.
	Running, Failing int
	// LastFailure is the newest failed create, "namespace/name: reason:
	// message", or "" when no create fails.
	LastFailure string
}

// Summary returns the manager's counts.
func (m *Manager) Summary() Summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s Summary
	for _, e := range m.pods {
		if e.ended != nil {
			s.Failing++
		} else {
			s.Running++
		}
	}
	var last failure
	for id, f := range m.failed {
		if _, held := m.pods[id]; held {
			continue
		}
		s.Failing++
		if f.at.After(last.at) {
			last = f
		}
	}
	if last.pod != nil {
		s.LastFailure = key(last.pod) + ": " + last.reason + ": " + last.message
	}
	return s
}
