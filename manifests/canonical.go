package manifests

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// DeepCopy returns an independent copy of p. Empty lists and maps become
// nil in the copy, which is the normal form used for comparison.
func (p *Pod) DeepCopy() (*Pod, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("copy pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	var c Pod
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("copy pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return &c, nil
}

// defaulted returns a normalised, defaulted copy of p; p is not changed.
func defaulted(p *Pod) (*Pod, error) {
	c, err := p.DeepCopy()
	if err != nil {
		return nil, err
	}
	SetDefaults(c)
	return c, nil
}

// CanonicalSpec is the JSON of the defaulted spec, with map keys sorted and
// empty fields left out: two specs that mean the same produce the same
// bytes. Metadata (labels, annotations) is not part of it.
func CanonicalSpec(p *Pod) ([]byte, error) {
	c, err := defaulted(p)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(c.Spec)
	if err != nil {
		return nil, fmt.Errorf("encode spec of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return b, nil
}

// SpecEqual reports whether a and b have the same defaulted spec, compared
// field by field. Callers keep the last good manifest and compare decoded
// specs rather than a stored hash: a hash of Go structs changes when berth
// gains a field and would restart every pod (docs/security.md rule 9).
// Quantities compare as written: "1Gi" and "1024Mi" differ, as any edit of
// the spec does.
func SpecEqual(a, b *Pod) bool {
	if a == b {
		return true
	}
	ca, errA := defaulted(a)
	cb, errB := defaulted(b)
	if errA != nil || errB != nil {
		return false
	}
	return reflect.DeepEqual(ca.Spec, cb.Spec)
}
