package k8scompat

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-project/berth/manifests"
)

// TestQuantitiesAgree checks berth's quantity parser against Kubernetes'
// resource.ParseQuantity on a golden table whose values were worked out
// by hand: base units (bytes, cores) and thousandths (millicores), both
// rounded up as Kubernetes' Value and MilliValue do. A row with ok false
// is refused by both.
func TestQuantitiesAgree(t *testing.T) {
	for _, tt := range []struct {
		in           string
		ok           bool
		value, milli int64
	}{
		{"0", true, 0, 0},
		{"1", true, 1, 1000},
		{"100m", true, 1, 100},
		{"1500m", true, 2, 1500},
		{"0.5", true, 1, 500},
		{".5", true, 1, 500},
		{"5.", true, 5, 5000},
		{"+2", true, 2, 2000},
		{"-1", true, -1, -1000},
		{"250u", true, 1, 1},
		{"1n", true, 1, 1},
		{"1k", true, 1000, 1_000_000},
		{"1M", true, 1_000_000, 1_000_000_000},
		{"2G", true, 2_000_000_000, 2_000_000_000_000},
		{"1T", true, 1_000_000_000_000, 1_000_000_000_000_000},
		{"128Ki", true, 131072, 131_072_000},
		{"64Mi", true, 67108864, 67_108_864_000},
		{"1.5Gi", true, 1610612736, 1_610_612_736_000},
		{"1Ti", true, 1 << 40, 1000 << 40},
		{"2Pi", true, 2 << 50, 2000 << 50},
		{"1e3", true, 1000, 1_000_000},
		{"1E3", true, 1000, 1_000_000},
		{"1.5e3", true, 1500, 1_500_000},
		{"5e-3", true, 1, 5},
		{"12e+1", true, 120, 120_000},
		{"0.001", true, 1, 1},
		{"0.0001", true, 1, 1},
		{"", false, 0, 0},
		{"abc", false, 0, 0},
		{"1.5.5", false, 0, 0},
		{"1Kb", false, 0, 0},
		{"1KI", false, 0, 0},
		{"1mi", false, 0, 0},
		{"1 Mi", false, 0, 0},
		{" 1", false, 0, 0},
		{"1e", false, 0, 0},
		{"1e3.5", false, 0, 0},
		{"0x10", false, 0, 0},
		{"--1", false, 0, 0},
		{"1Mi1", false, 0, 0},
	} {
		kq, kerr := resource.ParseQuantity(tt.in)
		bq, berr := manifests.ParseQuantity(tt.in)
		if (kerr == nil) != tt.ok {
			t.Errorf("golden row %q is wrong: Kubernetes says err=%v", tt.in, kerr)
		}
		if (berr == nil) != tt.ok {
			t.Errorf("%q: berth err=%v, Kubernetes err=%v", tt.in, berr, kerr)
			continue
		}
		if !tt.ok {
			continue
		}
		if kq.Value() != tt.value || kq.MilliValue() != tt.milli {
			t.Errorf("golden row %q is wrong: Kubernetes says %d, %dm; the table %d, %dm", tt.in, kq.Value(), kq.MilliValue(), tt.value, tt.milli)
		}
		if bq.Value() != tt.value || bq.MilliValue() != tt.milli {
			t.Errorf("%q: berth %d, %dm; Kubernetes %d, %dm", tt.in, bq.Value(), bq.MilliValue(), kq.Value(), kq.MilliValue())
		}
	}
}

// TestQuantitiesBerthRefuses lists what Kubernetes parses and berth
// refuses on purpose: quantities whose value in thousandths does not fit
// an int64 (about 8Pi), beyond any limit a node could honour, which berth
// refuses instead of clamping; and a bare suffix with no digits, which
// Kubernetes reads as zero.
func TestQuantitiesBerthRefuses(t *testing.T) {
	for _, in := range []string{"10Ei", "1e19", "9223372036854775808", "m", "Mi"} {
		if _, err := resource.ParseQuantity(in); err != nil {
			t.Errorf("%q: Kubernetes refuses it (%v): move it to the golden table", in, err)
		}
		if _, err := manifests.ParseQuantity(in); err == nil {
			t.Errorf("%q: berth accepts it", in)
		}
	}
}
