package container

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// v3Config is a container config as infra protocol version 3 carries it
// (every field set): a daemon and the infras it started before an upgrade
// must keep reading each other's configs.
const v3Config = `{"id":"default/web/app","lowerDirs":["/l"],"upperDir":"/u","workDir":"/w","rootfsDir":"/r",
"readOnlyRootfs":true,"mounts":[{"source":"/v","target":"/data","type":"bind","options":["ro"],"subPath":"a","file":true}],
"hostname":"web","args":["demo"],"env":["A=1"],"cwd":"/srv","user":"1000:1000","additionalGids":[5],
"runAsNonRoot":true,"capabilities":["CAP_KILL"],"noNewPrivileges":true,"seccomp":{"program":"AAAAAAAAAAA=","flags":2},
"privileged":true,"maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],"cgroupProcs":["/sys/fs/cgroup/x/cgroup.procs"],
"oomScoreAdj":-997}`

func TestConfigWireFormat(t *testing.T) {
	dec := json.NewDecoder(bytes.NewReader([]byte(v3Config)))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode a version 3 config: %v", err)
	}
	if c.User != "1000:1000" || c.Cwd != "/srv" || c.OOMScoreAdj != -997 || c.Seccomp == nil || c.Seccomp.Flags != 2 {
		t.Errorf("process fields lost: %+v", c.Process)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(v3Config), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("encoded config differs from version 3:\n got %s\nwant %s", out, v3Config)
	}
}
