package manifests

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Support is how berth treats a Kubernetes field.
type Support int

const (
	Implemented  Support = iota // modelled and acted on
	Partly                      // modelled, but some values are not supported yet
	NotSupported                // refused as "not supported yet"
	ClusterOnly                 // accepted with a warning and ignored
	NotAllowed                  // a Kubernetes field berth refuses by design
)

func (s Support) String() string {
	switch s {
	case Implemented:
		return "implemented"
	case Partly:
		return "implemented, some values not supported yet"
	case NotSupported:
		return "not supported yet"
	case ClusterOnly:
		return "cluster-only: accepted with a warning and ignored"
	case NotAllowed:
		return "not allowed"
	}
	return fmt.Sprintf("Support(%d)", int(s))
}

// Verdict is what Explain says about a field path.
type Verdict struct {
	Path    string // canonical form, lists as "[]": spec.containers[].name
	Support Support
	Message string // validation's message (or its detail for Partly); "" when Implemented
	Type    string // the Go shape of an implemented field: object, list of object, string...
}

// ErrUnknownField is wrapped by Explain for a path that is not a field of
// the Pod types berth knows.
var ErrUnknownField = errors.New("not a Kubernetes Pod field berth knows")

// Explain reports how berth treats the Pod field at path
// ("spec.containers.livenessProbe", "spec.containers[].livenessProbe",
// "pod.metadata.labels"), from the tables validation uses: the types'
// JSON names, the unsupported table and the cluster-only fields. When a
// path goes below a field that is not supported or cluster-only, the
// verdict is that field's.
func Explain(path string) (Verdict, error) {
	segs, err := splitPath(path)
	if err != nil {
		return Verdict{}, err
	}
	t := typeOf[Pod]()
	canon, list := "", false
	for i, name := range segs {
		if list {
			canon += "[]"
		}
		t = elem(t)
		if t.Kind() != reflect.Struct {
			return Verdict{}, fmt.Errorf("%s: %s holds no fields: %w", joinField(canon, name), canon, ErrUnknownField)
		}
		here := joinField(canon, name)
		idx, modelled := fieldsOf(t)[name]
		if u, ok := unsupportedIndex[ownerField{t, name}]; ok {
			switch {
			case !modelled || u.bad == nil:
				return Verdict{Path: here, Support: NotSupported, Message: name + " is not supported yet by berth" + u.detail}, nil
			case i == len(segs)-1:
				return Verdict{Path: here, Support: Partly, Message: "some values of " + name + " are not supported yet by berth" + u.detail, Type: describeType(t.FieldByIndex(idx).Type)}, nil
			}
		}
		if !modelled {
			c, ok := clusterOnlyField(t, name)
			if !ok {
				return Verdict{}, fmt.Errorf("%s: %w", here, ErrUnknownField)
			}
			s := ClusterOnly
			if c.severity == Error {
				s = NotAllowed
			}
			return Verdict{Path: here, Support: s, Message: c.message}, nil
		}
		t = t.FieldByIndex(idx).Type
		canon = here
		list = t.Kind() == reflect.Slice && elem(t).Kind() == reflect.Struct
	}
	return Verdict{Path: canon, Support: Implemented, Type: describeType(t)}, nil
}

// elem strips pointers and lists of structs down to what holds the fields.
func elem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || (t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8) {
		t = t.Elem()
	}
	return t
}

// splitPath splits "spec.containers[].name", "spec.containers.name" or
// "pod.spec.containers.name" into field names.
func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("empty field path: %w", ErrUnknownField)
	}
	parts := strings.Split(path, ".")
	if len(parts) > 1 && strings.EqualFold(parts[0], "pod") {
		parts = parts[1:] // kubectl explain's form: pod.spec.containers
	}
	var segs []string
	for _, s := range parts {
		name, idx, hasIdx := strings.Cut(s, "[")
		if name == "" || (hasIdx && !strings.HasSuffix(idx, "]")) {
			return nil, fmt.Errorf("%q: malformed field path: write it as spec.containers.name: %w", path, ErrUnknownField)
		}
		segs = append(segs, name)
	}
	return segs, nil
}
