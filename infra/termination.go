package infra

import "github.com/berth-project/berth/kube"

// Termination message policies, as in a container's terminationMessagePolicy.
const (
	TerminationMessageFile           = "File"
	TerminationMessageFallbackToLogs = "FallbackToLogsOnError"
)

// The kubelet's bounds on termination messages: 4 KiB read from a
// container's file, the last 80 lines and 2 KiB of its log as the
// fallback, and 12 KiB for all of a pod's messages together.
const (
	MaxTerminationMessage    = 4 << 10
	MaxTerminationLogLines   = 80
	MaxTerminationLogBytes   = 2 << 10
	MaxPodTerminationMessage = 12 << 10
)

// capTerminationMessages keeps a pod's termination messages within
// MaxPodTerminationMessage together: when they are longer, each one is cut
// to an equal share of it, as the kubelet does.
func capTerminationMessages(lists ...[]ContainerStatus) {
	var msgs []*string
	total := 0
	for _, list := range lists {
		for i := range list {
			for _, st := range []kube.ContainerState{list[i].State, list[i].LastState} {
				if st.Terminated != nil && st.Terminated.Message != "" {
					msgs = append(msgs, &st.Terminated.Message)
					total += len(st.Terminated.Message)
				}
			}
		}
	}
	if total <= MaxPodTerminationMessage {
		return
	}
	share := MaxPodTerminationMessage / len(msgs)
	for _, m := range msgs {
		if len(*m) > share {
			*m = (*m)[:share]
		}
	}
}

// copyTerminated gives a status its own copies of its terminated states,
// so that capping a snapshot never changes the supervisor's record.
func copyTerminated(st ContainerStatus) ContainerStatus {
	for _, s := range []*kube.ContainerState{&st.State, &st.LastState} {
		if s.Terminated != nil {
			t := *s.Terminated
			s.Terminated = &t
		}
	}
	return st
}
