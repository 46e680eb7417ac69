package infra

import (
	"strconv"
	"strings"
)

// runsKey sums up what a watch reports changes of (OpWatch): which run of
// each container is current, if any, and whether a sidecar's counts as
// started. Two statuses with the same key need not be sent twice.
func runsKey(st PodStatus) string {
	var b strings.Builder
	for _, list := range [][]ContainerStatus{st.InitContainers, st.Containers} {
		for _, c := range list {
			b.WriteString(c.Name)
			if r := c.State.Running; r != nil {
				b.WriteByte('@')
				b.WriteString(strconv.FormatInt(r.StartedAt.UnixNano(), 10))
			}
			if c.Started {
				b.WriteString("+started")
			}
			b.WriteByte(';')
		}
	}
	if st.Stopping {
		b.WriteString("stopping")
	}
	return b.String()
}
