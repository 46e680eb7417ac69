package cgroups

import (
	"math"
	"reflect"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v1Writes lists the files cgroup1 writes for res, with their values.
func v1Writes(res *specs.LinuxResources) map[string]any {
	out := map[string]any{}
	put := func(file string, v any) {
		if !reflect.ValueOf(v).IsNil() {
			out[file] = reflect.ValueOf(v).Elem().Interface()
		}
	}
	put("cpu.shares", res.CPU.Shares)
	put("cpu.cfs_period_us", res.CPU.Period)
	put("cpu.cfs_quota_us", res.CPU.Quota)
	put("memory.limit_in_bytes", res.Memory.Limit)
	if res.Pids != nil {
		out["pids.max"] = res.Pids.Limit
	}
	return out
}

func TestSpecsV1(t *testing.T) {
	limits := Resources{CPUQuota: 50000, CPUShares: 256, MemoryMax: 64 << 20}
	for _, tt := range []struct {
		name  string
		r     Resources
		fresh bool
		want  map[string]any
	}{
		{"fresh, unlimited: nothing to write", Resources{}, true, map[string]any{}},
		{"fresh, limited: the limits alone", limits, true, map[string]any{
			"cpu.shares": uint64(256), "cpu.cfs_quota_us": int64(50000), "memory.limit_in_bytes": int64(64 << 20),
		}},
		{"fresh, another period: written", Resources{CPUQuota: 1000, CPUPeriod: 10000}, true, map[string]any{
			"cpu.cfs_period_us": uint64(10000), "cpu.cfs_quota_us": int64(1000),
		}},
		{"existing, unlimited: reset", Resources{}, false, map[string]any{
			"cpu.shares": uint64(1024), "cpu.cfs_period_us": uint64(QuotaPeriod), "cpu.cfs_quota_us": int64(-1), "memory.limit_in_bytes": int64(-1),
		}},
		{"existing, limited", limits, false, map[string]any{
			"cpu.shares": uint64(256), "cpu.cfs_period_us": uint64(QuotaPeriod), "cpu.cfs_quota_us": int64(50000), "memory.limit_in_bytes": int64(64 << 20),
		}},
	} {
		if got := v1Writes(specsV1(tt.r, tt.fresh)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: writes %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestResourcesV2(t *testing.T) {
	m := &Manager{usable: []string{CPU, Memory, Pids}}
	i64, u64 := func(v int64) *int64 { return &v }, func(v uint64) *uint64 { return &v }
	yes := true
	for _, tt := range []struct {
		name             string
		r                Resources
		container, fresh bool
		want             cgroup2.Resources
	}{
		{"fresh pod, unlimited: controllers on, nothing written", Resources{}, false, true, cgroup2.Resources{
			CPU: &cgroup2.CPU{}, Memory: &cgroup2.Memory{}, Pids: &cgroup2.Pids{},
		}},
		{"fresh container, unlimited: oom.group alone", Resources{}, true, true, cgroup2.Resources{
			CPU: &cgroup2.CPU{}, Memory: &cgroup2.Memory{OOMGroup: &yes}, Pids: &cgroup2.Pids{},
		}},
		{"fresh, limited", Resources{CPUQuota: 50000, CPUWeight: 10, MemoryMax: 1 << 20, PidsMax: 10}, false, true, cgroup2.Resources{
			CPU: &cgroup2.CPU{Weight: u64(10), Max: "50000 100000"}, Memory: &cgroup2.Memory{Max: i64(1 << 20)}, Pids: &cgroup2.Pids{Max: 10},
		}},
		{"existing, unlimited: reset", Resources{}, false, false, cgroup2.Resources{
			CPU: &cgroup2.CPU{Weight: u64(100), Max: "max 100000"}, Memory: &cgroup2.Memory{Max: i64(math.MaxInt64)}, Pids: &cgroup2.Pids{Max: -1},
		}},
	} {
		if got := m.resourcesV2(tt.r, tt.container, tt.fresh); !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%s:\ngot  %+v %+v %+v\nwant %+v %+v %+v", tt.name, got.CPU, got.Memory, got.Pids, tt.want.CPU, tt.want.Memory, tt.want.Pids)
		}
	}
}
