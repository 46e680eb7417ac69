package infra

import "encoding/json"

// watchKey sums up what a watch reports changes of (OpWatch): the whole
// status but its events, which change on their own (a probe's, a pull's)
// and are asked for (OpStatus) when wanted. Two statuses with the same key
// need not be sent twice. Up to protocol 10 the key held only the runs (which
// run of each container is current, a sidecar's Started, Stopping); from 11
// a watch also reports a waiting reason, a restart count, the pod's Reason,
// so that a daemon may show the pushed status as the pod's (WatchAllVersion).
func watchKey(st PodStatus) string {
	st.Events = nil
	// Marshal fails only on a time outside years 0-9999, which no
	// status holds.
	b, _ := json.Marshal(st)
	return string(b)
}

// WatchAllVersion is the first protocol whose watch sends every change of
// the status but its events (watchKey): an older infra's stream misses
// a waiting reason or a restart count that changed without a run starting
// or ending.
const WatchAllVersion = 11
