package execin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []request{
		{Args: []string{"true"}, Max: 0},
		{Args: []string{"sh", "-c", "echo hi; exit 3"}, Max: 10 << 10},
		{Args: []string{"/bin/x", "", "with space"}, Max: maxRequest},
	} {
		b, err := encodeRequest(r)
		if err != nil {
			t.Fatalf("encodeRequest(%+v) = %v", r, err)
		}
		got, err := readRequest(bytes.NewReader(b))
		if err != nil || got.Max != r.Max || !slices.Equal(got.Args, r.Args) {
			t.Errorf("readRequest(encodeRequest(%+v)) = %+v, %v", r, got, err)
		}
	}
}

func TestEncodeRequestRefuses(t *testing.T) {
	for name, r := range map[string]request{
		"no command":    {Max: 1},
		"empty command": {Args: []string{""}, Max: 1},
		"NUL":           {Args: []string{"a\x00b"}, Max: 1},
		"negative cap":  {Args: []string{"a"}, Max: -1},
		"cap over":      {Args: []string{"a"}, Max: maxRequest + 1},
		"too many args": {Args: slices.Repeat([]string{"a"}, maxArgs+1), Max: 1},
		"too long":      {Args: []string{strings.Repeat("a", maxRequest)}, Max: 1},
	} {
		if _, err := encodeRequest(r); !errors.Is(err, errProtocol) {
			t.Errorf("%s: encodeRequest = %v, want a protocol error", name, err)
		}
	}
}

// frame builds a request frame from raw uint32s and strings.
func frame(parts ...any) []byte {
	var body []byte
	for _, p := range parts {
		switch p := p.(type) {
		case int:
			body = binary.BigEndian.AppendUint32(body, uint32(p))
		case string:
			body = append(body, p...)
		}
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestReadRequestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"cap over", frame(maxRequest+1, 1, 1, "a")},
		{"no args", frame(10, 0)},
		{"argc over", frame(10, maxArgs+1)},
		{"argument cut short", frame(10, 1, 5, "ab")},
		{"argument count lies", frame(10, 2, 1, "a")},
		{"trailing bytes", frame(10, 1, 1, "a", "zz")},
		{"empty command", frame(10, 1, 0)},
		{"NUL", frame(10, 1, 3, "a\x00b")},
		{"length under the header", frame(10)},
		{"length over", binary.BigEndian.AppendUint32(nil, maxRequest+1)},
		{"body cut short", frame(10, 1, 1, "a")[:10]},
	} {
		if _, err := readRequest(bytes.NewReader(tc.in)); !errors.Is(err, errProtocol) {
			t.Errorf("%s: readRequest = %v, want a protocol error", tc.name, err)
		}
	}
	if _, err := readRequest(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("readRequest at the end = %v, want io.EOF", err)
	}
}

func capOf(n int) func() int { return func() int { return n } }

func TestReplyRoundTrip(t *testing.T) {
	se := &SetupError{Step: "find program", Message: `exec: "nope": not found`, NotFound: true}
	for _, tc := range []struct {
		rp  reply
		max int
	}{
		{reply{Status: 0, Output: []byte{}}, 0},
		{reply{Status: 3, Output: []byte("hi\n")}, 3},
		{reply{Status: 137, Output: []byte{}}, 10},
		{reply{Setup: se}, 0},
	} {
		got, err := readReply(bytes.NewReader(encodeReply(tc.rp)), capOf(tc.max))
		if err != nil {
			t.Fatalf("readReply(encodeReply(%+v)) = %v", tc.rp, err)
		}
		if got.Status != tc.rp.Status || !bytes.Equal(got.Output, tc.rp.Output) ||
			(tc.rp.Setup == nil) != (got.Setup == nil) || (got.Setup != nil && *got.Setup != *se) {
			t.Errorf("readReply(encodeReply(%+v)) = %+v", tc.rp, got)
		}
	}
}

// rawReply builds a reply frame with any header.
func rawReply(kind byte, status, n uint32, payload string) []byte {
	b := binary.BigEndian.AppendUint32([]byte{kind}, status)
	return append(binary.BigEndian.AppendUint32(b, n), payload...)
}

func TestReadReplyRefusesHostileReplies(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		max  int
	}{
		{"output over the cap", rawReply('x', 0, 5, "hello"), 4},
		{"huge length, nothing sent", rawReply('x', 0, 1<<31, ""), 10 << 10},
		{"status over 255", rawReply('x', 256, 0, ""), 10},
		{"unknown kind", rawReply('?', 0, 0, ""), 10},
		{"output cut short", rawReply('x', 0, 5, "he"), 10},
		{"setup report over its cap", rawReply('s', 0, maxSetupReport+1, ""), 10},
		{"empty setup report", rawReply('s', 0, 0, ""), 10},
		{"setup report with a status", rawReply('s', 1, 2, "{}"), 10},
		{"setup report not JSON", rawReply('s', 0, 3, "abc"), 10},
		{"setup report with no step", rawReply('s', 0, 2, "{}"), 10},
		{"setup report with unknown fields", rawReply('s', 0, 23, `{"step":"a","extra":12}`), 10},
		{"header cut short", []byte{'x', 0, 0}, 10},
	} {
		if _, err := readReply(bytes.NewReader(tc.in), capOf(tc.max)); !errors.Is(err, errProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: readReply = %v, want a protocol error", tc.name, err)
		}
	}
	if _, err := readReply(bytes.NewReader(nil), capOf(1)); err != io.EOF {
		t.Errorf("readReply at the end = %v, want io.EOF", err)
	}
}
