package infra

import (
	"strings"
	"testing"

	"github.com/berth-project/berth/kube"
)

func TestCapTerminationMessages(t *testing.T) {
	term := func(msg string) kube.ContainerState {
		return kube.ContainerState{Terminated: &kube.StateTerminated{Message: msg}}
	}
	small := []ContainerStatus{{State: term("a")}, {LastState: term("b")}}
	capTerminationMessages(small)
	if small[0].State.Terminated.Message != "a" || small[1].LastState.Terminated.Message != "b" {
		t.Errorf("messages within 12 KiB were changed: %+v", small)
	}
	big := strings.Repeat("m", MaxTerminationMessage)
	inits := []ContainerStatus{{State: term(big)}}
	ctrs := []ContainerStatus{{State: term(big), LastState: term(big)}, {State: term("short")}}
	capTerminationMessages(inits, ctrs)
	share := MaxPodTerminationMessage / 4
	total := 0
	for _, m := range []string{inits[0].State.Terminated.Message, ctrs[0].State.Terminated.Message, ctrs[0].LastState.Terminated.Message} {
		if len(m) != share {
			t.Errorf("long message cut to %d bytes, want %d", len(m), share)
		}
		total += len(m)
	}
	if ctrs[1].State.Terminated.Message != "short" {
		t.Errorf("short message changed to %q", ctrs[1].State.Terminated.Message)
	}
	if total+len("short") > MaxPodTerminationMessage {
		t.Errorf("pod's messages take %d bytes, more than %d", total, MaxPodTerminationMessage)
	}
}

// TestSupervisorTerminationMessage: an exit's message is the container's,
// it moves to LastState on a restart, and a snapshot capped for the pod
// leaves the supervisor's own record whole.
func TestSupervisorTerminationMessage(t *testing.T) {
	cfg := validConfig()
	cfg.RestartPolicy = RestartOnFailure
	s, p := newTestSupervisor(cfg)
	name := cfg.Containers[0].Name
	long := strings.Repeat("z", MaxPodTerminationMessage+1)
	p.messages = map[string]string{name: long}
	if err := s.Start(nil, nil, func() {}); err != nil {
		t.Fatal(err)
	}
	s.Exited(s.Status().Containers[0].PID, exitStatus(1))
	st := s.Status().Containers[0]
	if st.LastState.Terminated == nil || st.LastState.Terminated.Message != long[:MaxPodTerminationMessage] {
		t.Fatalf("last state %+v: want the message cut to the pod's 12 KiB", st.LastState)
	}
	if c, _ := s.byName(name); c.status.LastState.Terminated.Message != long {
		t.Errorf("capping the snapshot changed the supervisor's record")
	}
}
