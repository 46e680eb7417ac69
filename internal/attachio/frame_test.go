package attachio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte("x"), MaxPayload+10)
	tests := []struct {
		name string
		kind Kind
		data []byte
		want []Frame
	}{
		{"stdin", Stdin, []byte("hello\n"), []Frame{{Stdin, []byte("hello\n")}}},
		{"close stdin is empty", CloseStdin, nil, []Frame{{CloseStdin, []byte{}}}},
		{"long output is split", Stdout, long, []Frame{{Stdout, long[:MaxPayload]}, {Stdout, long[MaxPayload:]}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteFrame(&buf, tt.kind, tt.data); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				got, err := ReadFrame(&buf)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if got.Kind != want.Kind || !bytes.Equal(got.Payload, want.Payload) {
					t.Fatalf("frame %d: kind %d, %d bytes; want kind %d, %d bytes", i, got.Kind, len(got.Payload), want.Kind, len(want.Payload))
				}
			}
			if _, err := ReadFrame(&buf); err != io.EOF {
				t.Fatalf("after the frames: %v, want io.EOF", err)
			}
		})
	}
}

func TestReadFrameRefuses(t *testing.T) {
	header := func(kind byte, n uint32) []byte {
		b := []byte{kind, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], n)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		bad  bool
	}{
		{"unknown kind", header(9, 0), true},
		{"payload too large", header(byte(Stdout), MaxPayload+1), true},
		{"truncated header", []byte{1, 0}, false},
		{"truncated payload", append(header(byte(Stdout), 4), 'a'), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.in))
			if err == nil || err == io.EOF {
				t.Fatalf("got %v, want an error", err)
			}
			if errors.Is(err, ErrBadFrame) != tt.bad {
				t.Fatalf("got %v, ErrBadFrame %v", err, tt.bad)
			}
		})
	}
}

func TestResize(t *testing.T) {
	rows, cols, err := DecodeResize(EncodeResize(40, 120))
	if err != nil || rows != 40 || cols != 120 {
		t.Fatalf("got %dx%d, %v; want 40x120", rows, cols, err)
	}
	for _, p := range [][]byte{{1, 2, 3}, EncodeResize(0, 80), EncodeResize(24, 0)} {
		if _, _, err := DecodeResize(p); !errors.Is(err, ErrBadFrame) {
			t.Errorf("DecodeResize(%v) = %v, want ErrBadFrame", p, err)
		}
	}
}
