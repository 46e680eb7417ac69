package k8scompat

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	sigsjson "sigs.k8s.io/json"
)

// strictJSON decodes data into v as the API server's strict decoder does
// (sigs.k8s.io/json): field names match exactly, and an unknown or
// duplicate field is an error.
func strictJSON(data []byte, v any) error {
	strict, err := sigsjson.UnmarshalStrict(data, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// roundTrip decodes data strictly into v (a pointer to a k8s.io/api type),
// encodes v again and lists every field of data the Kubernetes type lost
// or changed on the way. Fields the Kubernetes type adds (zero values it
// always writes) are not losses.
func roundTrip(data []byte, v any) ([]string, error) {
	if err := strictJSON(data, v); err != nil {
		return nil, fmt.Errorf("strict decode as %T: %w", v, err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	var before, after any
	if err := json.Unmarshal(data, &before); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(again, &after); err != nil {
		return nil, err
	}
	var lost []string
	diff("", before, after, &lost)
	return lost, nil
}

// diff appends to lost each path where a is not kept in b.
func diff(path string, a, b any, lost *[]string) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			*lost = append(*lost, fmt.Sprintf("%s: %s became %s", orRoot(path), short(a), short(b)))
			return
		}
		keys := make([]string, 0, len(av))
		for k := range av {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			bk, ok := bv[k]
			if !ok {
				*lost = append(*lost, fmt.Sprintf("%s.%s: dropped (was %s)", path, k, short(av[k])))
				continue
			}
			diff(path+"."+k, av[k], bk, lost)
		}
	case []any:
		bv, ok := b.([]any)
		if !ok || len(bv) != len(av) {
			*lost = append(*lost, fmt.Sprintf("%s: %s became %s", orRoot(path), short(a), short(b)))
			return
		}
		for i := range av {
			diff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], lost)
		}
	default:
		if isQuantityPath(path) && sameQuantity(a, b) {
			return
		}
		if !reflect.DeepEqual(a, b) {
			*lost = append(*lost, fmt.Sprintf("%s: %s became %s", orRoot(path), short(a), short(b)))
		}
	}
}

// isQuantityPath tells whether path holds a resource quantity, which
// Kubernetes re-encodes in its canonical form ("0.5" becomes "500m").
func isQuantityPath(path string) bool {
	return strings.Contains(path, ".resources.limits.") || strings.Contains(path, ".resources.requests.") ||
		strings.HasSuffix(path, ".sizeLimit") || strings.Contains(path, ".overhead.")
}

// sameQuantity reports whether a and b are strings of equal quantities.
func sameQuantity(a, b any) bool {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if !ok1 || !ok2 {
		return false
	}
	qa, err1 := resource.ParseQuantity(as)
	qb, err2 := resource.ParseQuantity(bs)
	return err1 == nil && err2 == nil && qa.Cmp(qb) == 0
}

func orRoot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// lostReport formats the losses of one object for a test failure.
func lostReport(lost []string) string {
	return "\n\t" + strings.Join(lost, "\n\t")
}
