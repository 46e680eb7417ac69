package manifests

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Quantity is a Kubernetes resource quantity ("100m", "0.5", "128Mi", "1e3").
// It keeps the text as written for display and the exact value for
// arithmetic. The zero Quantity is 0.
//
// Accepted values are those whose value in thousandths fits in an int64
// (up to about 8Pi), so Value and MilliValue never overflow.
type Quantity struct {
	s     string // as written
	exact string // exact value as a reduced fraction (big.Rat.RatString)
	milli int64  // value in thousandths, rounded up
	value int64  // value in base units, rounded up
}

const maxQuantityLen = 64

// ErrQuantity is wrapped by every error ParseQuantity returns.
var ErrQuantity = errors.New("invalid quantity")

var (
	binarySuffixes  = map[string]uint{"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
	decimalSuffixes = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
)

// ParseQuantity parses s with the Kubernetes grammar:
//
//	quantity ::= [+-] digits [. digits] suffix
//	suffix   ::= Ki|Mi|Gi|Ti|Pi|Ei | n|u|m|""|k|M|G|T|P|E | (e|E) [+-] digits
//
// Negative values parse; callers reject them where they are not allowed.
func ParseQuantity(s string) (Quantity, error) {
	if s == "" {
		return Quantity{}, fmt.Errorf("%w: empty string: write a number such as 500m, 1 or 128Mi", ErrQuantity)
	}
	if len(s) > maxQuantityLen {
		return Quantity{}, fmt.Errorf("%w: %q is longer than %d characters", ErrQuantity, s[:16]+"...", maxQuantityLen)
	}
	num, rest, ok := splitNumber(s)
	if !ok {
		return Quantity{}, fmt.Errorf("%w: %q does not start with a number: write e.g. 500m, 1.5 or 128Mi", ErrQuantity, s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return Quantity{}, fmt.Errorf("%w: %q has a malformed number", ErrQuantity, s)
	}
	if err := applySuffix(r, rest); err != nil {
		return Quantity{}, fmt.Errorf("%w: %q: %w", ErrQuantity, s, err)
	}
	milli, okMilli := ceilInt64(new(big.Rat).Mul(r, big.NewRat(1000, 1)))
	value, okValue := ceilInt64(r)
	if !okMilli || !okValue {
		return Quantity{}, fmt.Errorf("%w: %q is out of range: the magnitude must be below %dm (about 8Pi)", ErrQuantity, s, int64(math.MaxInt64))
	}
	return Quantity{s: s, exact: r.RatString(), milli: milli, value: value}, nil
}

// MustParseQuantity is ParseQuantity for constants in code and tests; it
// panics on a malformed value.
func MustParseQuantity(s string) Quantity {
	q, err := ParseQuantity(s)
	if err != nil {
		panic(err)
	}
	return q
}

// splitNumber splits s into its signed decimal number and the suffix.
func splitNumber(s string) (num, suffix string, ok bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return "", "", false
	}
	num = strings.TrimSuffix(s[:i], ".") // big.Rat rejects "5."
	if strings.HasPrefix(num, "+") {
		num = num[1:]
	}
	return num, s[i:], true
}

// Exponents beyond these bounds cannot change the outcome: with at most 64
// digits, anything above overflows and anything below rounds to one
// thousandth (or zero). Clamping keeps big.Rat arithmetic small.
const (
	maxExponent = 100
	minExponent = -200
)

// applySuffix multiplies r by the value of the suffix.
func applySuffix(r *big.Rat, suffix string) error {
	if shift, ok := binarySuffixes[suffix]; ok {
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), shift)))
		return nil
	}
	if exp, ok := decimalSuffixes[suffix]; ok {
		scale(r, exp)
		return nil
	}
	if len(suffix) > 1 && (suffix[0] == 'e' || suffix[0] == 'E') {
		exp, err := parseExponent(suffix[1:])
		if err != nil {
			return err
		}
		scale(r, exp)
		return nil
	}
	return fmt.Errorf("unknown suffix %q: use one of n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent like e3", suffix)
}

func parseExponent(s string) (int, error) {
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("malformed exponent %q: write e.g. e3 or e-3", s)
	}
	exp, err := strconv.ParseInt(s, 10, 64)
	if err != nil { // out of range: clamp, the sign decides
		if s[0] == '-' {
			return minExponent, nil
		}
		return maxExponent, nil
	}
	return int(max(minExponent, min(maxExponent, exp))), nil
}

// scale multiplies r by 10^exp.
func scale(r *big.Rat, exp int) {
	if exp == 0 {
		return
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil)
	if exp > 0 {
		r.Mul(r, new(big.Rat).SetInt(p))
	} else {
		r.Quo(r, new(big.Rat).SetInt(p))
	}
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// ceilInt64 rounds r towards +Inf and reports whether it fits an int64.
func ceilInt64(r *big.Rat) (int64, bool) {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// String returns the quantity as written ("0" for the zero Quantity).
func (q Quantity) String() string {
	if q.s == "" {
		return "0"
	}
	return q.s
}

// Value is the value in base units (bytes, cores), rounded up.
func (q Quantity) Value() int64 { return q.value }

// MilliValue is the value in thousandths (millicores), rounded up.
func (q Quantity) MilliValue() int64 { return q.milli }

// Sign returns -1, 0 or +1.
func (q Quantity) Sign() int { return q.rat().Sign() }

// Cmp compares exact values: -1 if q < o, 0 if equal, +1 if q > o.
func (q Quantity) Cmp(o Quantity) int { return q.rat().Cmp(o.rat()) }

func (q Quantity) rat() *big.Rat {
	r := new(big.Rat)
	if q.exact != "" {
		r.SetString(q.exact)
	}
	return r
}

// UnmarshalYAML accepts a YAML number or string.
func (q *Quantity) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a quantity such as 500m or 128Mi, got %s", describeNode(n))
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float":
	default:
		return fmt.Errorf("expected a quantity such as 500m or 128Mi, got %s", describeNode(n))
	}
	parsed, err := ParseQuantity(n.Value)
	if err != nil {
		return err
	}
	*q = parsed
	return nil
}

// MarshalJSON writes the quantity as written, as a JSON string.
func (q Quantity) MarshalJSON() ([]byte, error) { return json.Marshal(q.String()) }

// UnmarshalJSON accepts a JSON string or number.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decode quantity: %w", err)
		}
	}
	parsed, err := ParseQuantity(s)
	if err != nil {
		return err
	}
	*q = parsed
	return nil
}
