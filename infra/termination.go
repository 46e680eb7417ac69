package infra

import (
	"bytes"

	"github.com/berth-project/berth/kube"
)

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

// terminationLogTailRead is how much of the end of a log file is read for
// the fallback: enough for 2 KiB of text in CRI records of short lines.
const terminationLogTailRead = 64 << 10

// logTail returns the text of the last MaxTerminationLogLines lines of a
// CRI log, cut to its last MaxTerminationLogBytes bytes. raw is the end of
// the file; whole says it is the whole file, otherwise its first line may
// be cut and is dropped. Records that do not parse are skipped.
func logTail(raw []byte, whole bool) string {
	lines := bytes.SplitAfter(raw, []byte{'\n'})
	if !whole && len(lines) > 0 {
		lines = lines[1:]
	}
	var out [][]byte
	var cur []byte
	partial := false
	for _, l := range lines {
		r, err := ParseCRI(l)
		if err != nil {
			continue
		}
		cur = append(cur, r.Text...)
		partial = r.Partial
		if !partial {
			out = append(out, append(cur, '\n'))
			cur = nil
		}
	}
	if partial {
		out = append(out, cur)
	}
	if len(out) > MaxTerminationLogLines {
		out = out[len(out)-MaxTerminationLogLines:]
	}
	text := bytes.Join(out, nil)
	if len(text) > MaxTerminationLogBytes {
		text = text[len(text)-MaxTerminationLogBytes:]
	}
	return string(text)
}

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
