package cgroups

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"default_web", true},
		{"web-1", true},
		{"a.b", true},
		{"A9", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a..b", false},
		{"a/b", false},
		{"/abs", false},
		{".hidden", false},
		{"_infra", false},
		{"-dash", false},
		{"sp ace", false},
		{"nul\x00", false},
		{"ünï", false},
		{strings.Repeat("a", maxNameLen), true},
		{strings.Repeat("a", maxNameLen+1), false},
	} {
		err := ValidateName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v, want ErrInvalidName", tt.name, err)
		}
	}
}

func TestValidateParent(t *testing.T) {
	for _, tt := range []struct {
		parent string
		ok     bool
	}{
		{"berth", true},
		{"system.slice/berth.service", true},
		{"", false},
		{"/berth", false},
		{"berth/", false},
		{"a//b", false},
		{"a/../b", false},
		{"..", false},
	} {
		if err := validateParent(tt.parent); (err == nil) != tt.ok {
			t.Errorf("validateParent(%q) = %v, want ok=%v", tt.parent, err, tt.ok)
		}
	}
}

func TestLayout(t *testing.T) {
	v1 := layout{mode: Hybrid, parent: "berth", hierarchies: map[string]string{
		Pids: "/sys/fs/cgroup/pids", CPU: "/sys/fs/cgroup/cpu", Memory: "/sys/fs/cgroup/memory",
	}}
	v1NoMem := layout{mode: V1, parent: "berth", hierarchies: map[string]string{CPU: "/cg/cpu"}}
	v2 := layout{mode: V2, parent: "x/berth", hierarchies: map[string]string{"": "/sys/fs/cgroup"}}
	tests := []struct {
		name     string
		got      any
		want     any
		wantNone bool
	}{
		{name: "v1 dirs in controller order", got: v1.dirs("p", "c"), want: []string{
			"/sys/fs/cgroup/cpu/berth/p/c", "/sys/fs/cgroup/memory/berth/p/c", "/sys/fs/cgroup/pids/berth/p/c"}},
		{name: "v1 procs", got: v1.procsFiles("p"), want: []string{
			"/sys/fs/cgroup/cpu/berth/p/cgroup.procs", "/sys/fs/cgroup/memory/berth/p/cgroup.procs",
			"/sys/fs/cgroup/pids/berth/p/cgroup.procs"}},
		{name: "v1 parent dirs", got: v1NoMem.dirs(), want: []string{"/cg/cpu/berth"}},
		{name: "v1 memory dir", got: v1.memoryDir("p", "c"), want: "/sys/fs/cgroup/memory/berth/p/c"},
		{name: "v1 without memory", got: v1NoMem.memoryDir("p", "c"), want: ""},
		{name: "v2 dirs", got: v2.dirs("p", InfraName), want: []string{"/sys/fs/cgroup/x/berth/p/_infra"}},
		{name: "v2 memory dir", got: v2.memoryDir("p", "c"), want: "/sys/fs/cgroup/x/berth/p/c"},
		{name: "cgroup path", got: v2.cgroupPath("p", "c"), want: "/x/berth/p/c"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
