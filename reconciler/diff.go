package reconciler

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/berth-project/berth/manifests"
)

// specChangeReason names the first field (in JSON order: sorted keys,
// then list index) where the two defaulted specs differ, for example
// "spec.containers[0].image changed". manifests.SpecEqual has already
// decided that they differ; this only explains it, so when the canonical
// forms cannot be built or happen to match, it says "spec changed".
func specChangeReason(desired, observed *manifests.Pod) string {
	a, errA := canonical(desired)
	b, errB := canonical(observed)
	if errA != nil || errB != nil {
		return "spec changed"
	}
	if p, ok := firstDiff("spec", a, b); ok {
		return p + " changed"
	}
	return "spec changed"
}

// canonical turns p's defaulted spec into plain maps, slices and scalars.
func canonical(p *manifests.Pod) (any, error) {
	raw, err := manifests.CanonicalSpec(p)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode canonical spec of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return out, nil
}

// firstDiff returns the path of the first difference between a and b.
func firstDiff(path string, a, b any) (string, bool) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return path, true
		}
		return firstMapDiff(path, av, bv)
	case []any:
		bv, ok := b.([]any)
		if !ok {
			return path, true
		}
		for i := range min(len(av), len(bv)) {
			if p, ok := firstDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i]); ok {
				return p, true
			}
		}
		if len(av) != len(bv) {
			return fmt.Sprintf("%s[%d]", path, min(len(av), len(bv))), true
		}
		return "", false
	default:
		if reflect.DeepEqual(a, b) {
			return "", false
		}
		return path, true
	}
}

func firstMapDiff(path string, a, b map[string]any) (string, bool) {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if p, ok := firstDiff(path+"."+k, a[k], b[k]); ok {
			return p, true
		}
	}
	return "", false
}
