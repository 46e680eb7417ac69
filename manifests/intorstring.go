package manifests

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// IntOrStringType says which member of an IntOrString is set.
type IntOrStringType int

// The two kinds of IntOrString.
const (
	IntValue IntOrStringType = iota
	StringValue
)

// IntOrString is a port given as a number (8080) or a name ("http"). As in
// Kubernetes, a quoted number ("8080") is a string.
type IntOrString struct {
	Type   IntOrStringType
	IntVal int32
	StrVal string
}

// FromInt returns an IntOrString holding i.
func FromInt(i int32) IntOrString { return IntOrString{Type: IntValue, IntVal: i} }

// FromString returns an IntOrString holding s.
func FromString(s string) IntOrString { return IntOrString{Type: StringValue, StrVal: s} }

// String returns the number or the name.
func (v IntOrString) String() string {
	if v.Type == StringValue {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

// UnmarshalYAML accepts a YAML integer or string.
func (v *IntOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a port number or name, got %s", describeNode(n))
	}
	switch n.ShortTag() {
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			return fmt.Errorf("number %s is out of range for a 32-bit integer", n.Value)
		}
		*v = FromInt(int32(i))
	case "!!str":
		*v = FromString(n.Value)
	default:
		return fmt.Errorf("expected a port number or name, got %s", describeNode(n))
	}
	return nil
}

// MarshalJSON writes a JSON number or string.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.Type == StringValue {
		return json.Marshal(v.StrVal)
	}
	return json.Marshal(v.IntVal)
}

// UnmarshalJSON accepts a JSON number or string.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		v.Type = StringValue
		v.IntVal = 0
		if err := json.Unmarshal(b, &v.StrVal); err != nil {
			return fmt.Errorf("decode port name: %w", err)
		}
		return nil
	}
	v.Type = IntValue
	v.StrVal = ""
	if err := json.Unmarshal(b, &v.IntVal); err != nil {
		return fmt.Errorf("decode port number: %w", err)
	}
	return nil
}
