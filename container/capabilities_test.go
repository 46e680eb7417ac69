package container

import (
	"reflect"
	"strings"
	"testing"
)

func TestComputeCapabilities(t *testing.T) {
	defaults := DefaultCapabilities()
	sortCaps(defaults)
	without := func(list []string, drop ...string) []string {
		var out []string
		for _, c := range list {
			if !containsFold(drop, c) {
				out = append(out, c)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		add, drop []string
		want      []string
		errText   string
	}{
		{name: "defaults", want: defaults},
		{name: "add without prefix", add: []string{"NET_ADMIN"}, want: []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"}},
		{name: "drop with prefix", drop: []string{"CAP_NET_RAW", "mknod"}, want: without(defaults, "CAP_NET_RAW", "CAP_MKNOD")},
		{name: "drop all add one", add: []string{"NET_BIND_SERVICE"}, drop: []string{"ALL"}, want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "add all drop one", add: []string{"all"}, drop: []string{"CHOWN"}, want: without(AllCapabilities(), "CAP_CHOWN")},
		{name: "drop all", drop: []string{"ALL"}, want: []string{}},
		{name: "unknown add", add: []string{"FLY"}, errText: `capabilities.add: unknown capability "FLY"`},
		{name: "unknown drop", drop: []string{"CAP_FLY"}, errText: `capabilities.drop: unknown capability "CAP_FLY"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ComputeCapabilities(tt.add, tt.drop)
			if tt.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestCapMask(t *testing.T) {
	tests := []struct {
		name    string
		caps    []string
		lastCap int
		want    uint64
	}{
		{"docker defaults", DefaultCapabilities(), 40, 0xa80425fb},
		{"all on a 6.x kernel", AllCapabilities(), 40, 1<<41 - 1},
		{"newer caps skipped on an old kernel", []string{"CAP_BPF", "CAP_CHOWN"}, 37, 1},
		{"lower case", []string{"sys_admin"}, 40, 1 << 21},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := capMask(tt.caps, tt.lastCap)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("capMask = %#x, want %#x", got, tt.want)
			}
		})
	}
}
