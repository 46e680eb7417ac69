package manifests

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		milli int64
		value int64
	}{
		{"0", 0, 0},
		{"1", 1000, 1},
		{"100m", 100, 1},
		{"0.5", 500, 1},
		{".5", 500, 1},
		{"5.", 5000, 5},
		{"+2", 2000, 2},
		{"-1", -1000, -1},
		{"-0.5", -500, 0},
		{"1n", 1, 1},
		{"1500u", 2, 1},
		{"1k", 1_000_000, 1000},
		{"128Mi", 128 << 20 * 1000, 128 << 20},
		{"1.5Gi", 1536 << 20 * 1000, 1536 << 20},
		{"1G", 1e12, 1e9},
		{"1e3", 1e6, 1000},
		{"1E3", 1e6, 1000},
		{"1e-3", 1, 1},
		{"2.5e+2", 250_000, 250},
		{"1e-999999999999999999999", 1, 1},
		{"0e999999999999999999999", 0, 0},
		{"1Pi", 1 << 50 * 1000, 1 << 50},
		{"8Pi", 8 << 50 * 1000, 8 << 50},
		{"9223372036854775807m", 9223372036854775807, 9223372036854776},
		{"-9223372036854775808m", -9223372036854775808, -9223372036854775},
	}
	for _, tt := range tests {
		q, err := ParseQuantity(tt.in)
		if err != nil {
			t.Errorf("ParseQuantity(%q): %v", tt.in, err)
			continue
		}
		if q.MilliValue() != tt.milli || q.Value() != tt.value || q.String() != tt.in {
			t.Errorf("ParseQuantity(%q) = milli %d value %d string %q; want %d %d %q", tt.in, q.MilliValue(), q.Value(), q.String(), tt.milli, tt.value, tt.in)
		}
	}
}

func TestParseQuantityErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "m", "Mi", "-", ".", "1.2.3", "1 Mi", " 1", "1mi", "1KB", "1e", "1e+", "1e1.5", "1e--3",
		"0x10", "1_000", "NaN", ".inf", "1Mi1", "++1",
		"10Ei", "9Pi", "9223372036854775808m", "1e20", "99999999999999999999",
		"1e999999999999999999999", "-1e17",
		"1111111111111111111111111111111111111111111111111111111111111111111",
	} {
		if q, err := ParseQuantity(in); err == nil {
			t.Errorf("ParseQuantity(%q) = %v, want an error", in, q)
		} else if !errors.Is(err, ErrQuantity) {
			t.Errorf("ParseQuantity(%q) error %v does not wrap ErrQuantity", in, err)
		}
	}
}

func TestQuantityCmp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"1Gi", "1024Mi", 0},
		{"1G", "1Gi", -1},
		{"500m", "0.5", 0},
		{"1n", "0", 1},
		{"-1", "1", -1},
		{"1.0001m", "1.0002m", -1},
	}
	for _, tt := range tests {
		if got := MustParseQuantity(tt.a).Cmp(MustParseQuantity(tt.b)); got != tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	if (Quantity{}).Cmp(MustParseQuantity("0")) != 0 || (Quantity{}).String() != "0" {
		t.Error("the zero Quantity is not 0")
	}
}

func TestQuantityJSON(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`"128Mi"`, `0.5`, `2`} {
		var q Quantity
		if err := json.Unmarshal([]byte(in), &q); err != nil {
			t.Fatalf("unmarshal %s: %v", in, err)
		}
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		var back Quantity
		if err := json.Unmarshal(b, &back); err != nil || back != q {
			t.Errorf("round trip of %s: got %v (%v)", in, back, err)
		}
	}
	var q Quantity
	if err := json.Unmarshal([]byte(`"12XB"`), &q); err == nil {
		t.Error("unmarshal of a bad quantity succeeded")
	}
}

func TestIntOrStringJSON(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want IntOrString
	}{{`8080`, FromInt(8080)}, {`"http"`, FromString("http")}, {`"8080"`, FromString("8080")}} {
		var v IntOrString
		if err := json.Unmarshal([]byte(tt.in), &v); err != nil || v != tt.want {
			t.Errorf("unmarshal %s = %+v, %v; want %+v", tt.in, v, err, tt.want)
		}
		b, _ := json.Marshal(v)
		if string(b) != tt.in {
			t.Errorf("marshal %+v = %s, want %s", v, b, tt.in)
		}
	}
}
