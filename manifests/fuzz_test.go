package manifests

import (
	"encoding/json"
	"testing"
)

// FuzzParse checks that Parse never panics, that every problem says where
// it is (a path, a line, or the whole file), and that a pod parsed without
// errors validates clean again, survives a JSON round trip through the
// parser, and compares equal to its own copy.
func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: b}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := Parse("fuzz.yaml", data)
		for _, p := range file.Problems() {
			if p.Message == "" || p.File != "fuzz.yaml" {
				t.Fatalf("problem without message or file: %+v", p)
			}
			if p.Path == "" && p.Line <= 0 && p.Document >= 0 {
				t.Fatalf("document problem without path or line: %+v", p)
			}
		}
		for _, d := range file.Docs {
			if d.Pod == nil || d.HasErrors() {
				continue
			}
			if ps := ValidatePod(d.Pod); refuses(ps) {
				t.Fatalf("pod parsed clean but re-validates with %v", ps)
			}
			c, err := d.Pod.DeepCopy()
			if err != nil || !SpecEqual(d.Pod, c) {
				t.Fatalf("copy differs: %v", err)
			}
			b, err := json.Marshal(d.Pod)
			if err != nil {
				t.Fatal(err)
			}
			again := Parse("fuzz.json", b)
			if again.HasErrors() || len(again.Docs) != 1 || !SpecEqual(d.Pod, again.Docs[0].Pod) {
				t.Fatalf("JSON round trip of a clean pod fails: %s\n%v", b, again.Problems())
			}
		}
	})
}

// FuzzQuantity checks that ParseQuantity never panics, that accepted values
// round up consistently and survive a JSON round trip.
func FuzzQuantity(f *testing.F) {
	for _, s := range []string{"100m", "1.5Gi", "1e3", "-1", ".5", "8Pi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantity(s)
		if err != nil {
			return
		}
		if q.String() != s {
			t.Fatalf("String() = %q, want %q", q.String(), s)
		}
		// Both round up, so Value is MilliValue/1000 rounded up.
		v, m := q.Value(), q.MilliValue()
		ceil := m / 1000
		if m%1000 > 0 {
			ceil++
		}
		if ceil != v {
			t.Fatalf("%q: Value %d and MilliValue %d disagree", s, v, m)
		}
		if (q.Sign() > 0) != (q.MilliValue() > 0) {
			t.Fatalf("%q: Sign %d but MilliValue %d", s, q.Sign(), q.MilliValue())
		}
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		var back Quantity
		if err := json.Unmarshal(b, &back); err != nil || back != q {
			t.Fatalf("JSON round trip of %q: %v %v", s, back, err)
		}
	})
}
