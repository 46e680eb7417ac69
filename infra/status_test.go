package infra

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// v3Status is a pod status as an infra of protocol version 3 sends it: a
// daemon upgraded while such infras run must read it, and they read ours.
const v3Status = `{"version":3,"pid":100,"startTime":5,"started":true,"startedAt":"2026-01-02T03:04:05Z",
"initContainers":[{"name":"setup","state":{"terminated":{"exitCode":0,"reason":"Completed","startedAt":"2026-01-02T03:04:05Z","finishedAt":"2026-01-02T03:04:06Z"}},"lastState":{},"restartCount":0}],
"containers":[{"name":"app","pid":7,"state":{"running":{"startedAt":"2026-01-02T03:04:07Z","startTimings":{"clone":1,"runtime":2,"cgroups":3,"rootfs":4,"setup":5,"exec":6}}},
"lastState":{"terminated":{"exitCode":137,"signal":9,"reason":"OOMKilled","message":"m","startedAt":"2026-01-02T03:04:05Z","finishedAt":"2026-01-02T03:04:06Z"}},"restartCount":1,"logPath":"/l/app/1.log"},
{"name":"wait","state":{"waiting":{"reason":"CrashLoopBackOff","message":"back-off"}},"lastState":{},"restartCount":3}],
"events":[{"firstTime":"2026-01-02T03:04:07Z","time":"2026-01-02T03:04:08Z","count":2,"type":"Warning","reason":"BackOff","container":"wait","message":"m"}]}`

func TestStatusWireFormat(t *testing.T) {
	dec := json.NewDecoder(bytes.NewReader([]byte(v3Status)))
	dec.DisallowUnknownFields()
	var st PodStatus
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("decode a version 3 status: %v", err)
	}
	if r := st.Containers[0].State.Running; r == nil || r.StartTimings.Exec != 6 {
		t.Errorf("running state lost its start timings: %+v", st.Containers[0].State)
	}
	out, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(v3Status), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("encoded status differs from version 3:\n got %s\nwant %s", out, v3Status)
	}
}
