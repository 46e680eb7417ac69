package cgroups

import (
	"errors"
	"testing"
)

func TestForContainer(t *testing.T) {
	const mi = 1 << 20
	tests := []struct {
		name string
		in   Container
		want Resources
	}{
		{
			name: "best effort",
			in:   Container{},
			want: Resources{CPUPeriod: QuotaPeriod, CPUShares: 2, CPUWeight: 1, PidsMax: DefaultPidsMax, Devices: DevicesDefault},
		},
		{
			name: "request only",
			in:   Container{Requests: Quantities{CPUMilli: 250, MemoryBytes: 64 * mi}},
			want: Resources{CPUPeriod: QuotaPeriod, CPUShares: 256, CPUWeight: 10, PidsMax: DefaultPidsMax, Devices: DevicesDefault},
		},
		{
			name: "limit only: request defaults to limit",
			in:   Container{Limits: Quantities{CPUMilli: 500, MemoryBytes: 128 * mi}},
			want: Resources{MemoryMax: 128 * mi, CPUQuota: 50000, CPUPeriod: QuotaPeriod, CPUShares: 512, CPUWeight: 20, PidsMax: DefaultPidsMax, Devices: DevicesDefault},
		},
		{
			name: "guaranteed one cpu",
			in:   Container{Limits: Quantities{CPUMilli: 1000}, Requests: Quantities{CPUMilli: 1000}},
			want: Resources{CPUQuota: 100000, CPUPeriod: QuotaPeriod, CPUShares: 1024, CPUWeight: 39, PidsMax: DefaultPidsMax, Devices: DevicesDefault},
		},
		{
			name: "burstable: request below limit",
			in:   Container{Limits: Quantities{CPUMilli: 2000}, Requests: Quantities{CPUMilli: 100}},
			want: Resources{CPUQuota: 200000, CPUPeriod: QuotaPeriod, CPUShares: 102, CPUWeight: 4, PidsMax: DefaultPidsMax, Devices: DevicesDefault},
		},
		{
			name: "tiny limit: quota floor and shares floor",
			in:   Container{Limits: Quantities{CPUMilli: 1}},
			want: Resources{CPUQuota: MinQuotaPeriod, CPUPeriod: QuotaPeriod, CPUShares: 2, CPUWeight: 1, PidsMax: DefaultPidsMax, Devices: DevicesDefault},
		},
		{
			name: "100m limit",
			in:   Container{Limits: Quantities{CPUMilli: 100}},
			want: Resources{CPUQuota: 10000, CPUPeriod: QuotaPeriod, CPUShares: 102, CPUWeight: 4, PidsMax: DefaultPidsMax, Devices: DevicesDefault},
		},
		{
			name: "huge request: shares ceiling",
			in:   Container{Requests: Quantities{CPUMilli: 1000 * 1000}},
			want: Resources{CPUPeriod: QuotaPeriod, CPUShares: MaxShares, CPUWeight: 10000, PidsMax: DefaultPidsMax, Devices: DevicesDefault},
		},
		{
			name: "explicit pids",
			in:   Container{PidsMax: 64},
			want: Resources{CPUPeriod: QuotaPeriod, CPUShares: 2, CPUWeight: 1, PidsMax: 64, Devices: DevicesDefault},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ForContainer(tt.in)
			if err != nil {
				t.Fatalf("ForContainer: %v", err)
			}
			if got != tt.want {
				t.Errorf("ForContainer(%+v)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestForContainerRejects(t *testing.T) {
	for _, c := range []Container{
		{Limits: Quantities{CPUMilli: -1}},
		{Requests: Quantities{CPUMilli: MaxCPUMilli + 1}},
		{Limits: Quantities{MemoryBytes: -5}},
		{Limits: Quantities{MemoryBytes: MaxMemoryBytes + 1}},
		{PidsMax: -1},
		{PidsMax: MaxPids + 1},
	} {
		if _, err := ForContainer(c); !errors.Is(err, ErrInvalidQuantity) {
			t.Errorf("ForContainer(%+v) = %v, want ErrInvalidQuantity", c, err)
		}
	}
}

func TestForPod(t *testing.T) {
	const mi = 1 << 20
	limited := func(milli, mem int64) Container {
		return Container{Limits: Quantities{CPUMilli: milli, MemoryBytes: mem}}
	}
	tests := []struct {
		name string
		in   []Container
		want Resources
	}{
		{
			name: "every container limited: sums",
			in:   []Container{limited(500, 64*mi), limited(250, 32*mi)},
			want: Resources{MemoryMax: 96*mi + podMemoryHeadroom + 2*podMemoryHeadroomPerContainer, CPUQuota: 75000, CPUPeriod: QuotaPeriod, CPUShares: 768, CPUWeight: 30,
				PidsMax: 2*DefaultPidsMax + podPidsHeadroom},
		},
		{
			name: "one without cpu limit: no pod quota, memory still summed",
			in:   []Container{limited(500, 64*mi), {Limits: Quantities{MemoryBytes: 32 * mi}, Requests: Quantities{CPUMilli: 100}}},
			want: Resources{MemoryMax: 96*mi + podMemoryHeadroom + 2*podMemoryHeadroomPerContainer, CPUPeriod: QuotaPeriod, CPUShares: 614, CPUWeight: 24,
				PidsMax: 2*DefaultPidsMax + podPidsHeadroom},
		},
		{
			name: "one without memory limit: pod memory unlimited",
			in:   []Container{limited(500, 64*mi), limited(500, 0)},
			want: Resources{CPUQuota: 100000, CPUPeriod: QuotaPeriod, CPUShares: 1024, CPUWeight: 39,
				PidsMax: 2*DefaultPidsMax + podPidsHeadroom},
		},
		{
			name: "best effort",
			in:   []Container{{}, {PidsMax: 10}},
			want: Resources{CPUPeriod: QuotaPeriod, CPUShares: 2, CPUWeight: 1, PidsMax: DefaultPidsMax + 10 + podPidsHeadroom},
		},
		{
			name: "no containers",
			want: Resources{CPUPeriod: QuotaPeriod, CPUShares: 2, CPUWeight: 1, PidsMax: podPidsHeadroom},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ForPod(tt.in)
			if err != nil {
				t.Fatalf("ForPod: %v", err)
			}
			if got != tt.want {
				t.Errorf("ForPod\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestForPodRejects(t *testing.T) {
	huge := Container{Limits: Quantities{MemoryBytes: MaxMemoryBytes}}
	if _, err := ForPod([]Container{huge, huge}); !errors.Is(err, ErrInvalidQuantity) {
		t.Errorf("ForPod(2 x 1 EiB) = %v, want ErrInvalidQuantity", err)
	}
	bad := Container{Limits: Quantities{CPUMilli: -1}}
	if _, err := ForPod([]Container{{}, bad}); !errors.Is(err, ErrInvalidQuantity) {
		t.Errorf("ForPod(negative cpu) = %v, want ErrInvalidQuantity", err)
	}
}

func TestKubeletConversions(t *testing.T) {
	// Reference values from the kubelet's helpers_linux_test.go and runc's
	// ConvertCPUSharesToCgroupV2Value tests.
	for _, tt := range []struct {
		milli          int64
		shares, weight uint64
		quota          int64
	}{
		{0, 2, 1, 0},
		{1, 2, 1, 1000},
		{9, 9, 1, 1000},
		{10, 10, 1, 1000},
		{200, 204, 8, 20000},
		{1000, 1024, 39, 100000},
		{262144, MaxShares, 10000, 26214400},
	} {
		if got := MilliCPUToShares(tt.milli); got != tt.shares {
			t.Errorf("MilliCPUToShares(%d) = %d, want %d", tt.milli, got, tt.shares)
		}
		if got := CPUSharesToWeight(tt.shares); got != tt.weight {
			t.Errorf("CPUSharesToWeight(%d) = %d, want %d", tt.shares, got, tt.weight)
		}
		if got := MilliCPUToQuota(tt.milli, QuotaPeriod); got != tt.quota {
			t.Errorf("MilliCPUToQuota(%d) = %d, want %d", tt.milli, got, tt.quota)
		}
	}
	if got := CPUSharesToWeight(0); got != 0 {
		t.Errorf("CPUSharesToWeight(0) = %d, want 0", got)
	}
}
