package cgroups

import (
	"reflect"
	"testing"
)

func TestParseKV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]uint64
		wantErr bool
	}{
		{name: "memory.events", in: "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n",
			want: map[string]uint64{"low": 0, "high": 0, "max": 12, "oom": 2, "oom_kill": 1, "oom_group_kill": 0}},
		{name: "old oom_control without oom_kill", in: "oom_kill_disable 0\nunder_oom 0\n",
			want: map[string]uint64{"oom_kill_disable": 0, "under_oom": 0}},
		{name: "empty", in: "", want: map[string]uint64{}},
		{name: "no value", in: "oom_kill\n", wantErr: true},
		{name: "not a number", in: "oom_kill x\n", wantErr: true},
		{name: "negative", in: "oom_kill -1\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseKV(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.name, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestInCgroup(t *testing.T) {
	hybrid := "12:pids:/berth/p/c\n4:memory:/berth/p/_infra\n3:cpu,cpuacct:/berth/p/c\n0::/user.slice\n"
	v2 := "0::/berth/p/c\n"
	tests := []struct {
		name, proc, ctrl, path string
		want                   bool
	}{
		{"v1 exact", hybrid, Pids, "/berth/p/c", true},
		{"v1 below", hybrid, Memory, "/berth/p", true},
		{"v1 comounted", hybrid, CPU, "/berth/p", true},
		{"v1 prefix is not a parent", hybrid, Pids, "/berth/p/c2", false},
		{"v1 sibling name prefix", "12:pids:/berth/pod10\n", Pids, "/berth/pod1", false},
		{"v1 controller absent", hybrid, "freezer", "/berth/p", false},
		{"unified line in hybrid", hybrid, "", "/berth/p", false},
		{"v2 below", v2, "", "/berth/p", true},
		{"v2 elsewhere", v2, "", "/other", false},
	}
	for _, tt := range tests {
		if got := inCgroup(tt.proc, tt.ctrl, tt.path); got != tt.want {
			t.Errorf("%s: inCgroup(%q, %q) = %v, want %v", tt.name, tt.ctrl, tt.path, got, tt.want)
		}
	}
}
