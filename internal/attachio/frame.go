// Package attachio is the stream protocol of `berth attach`: the
// frames that carry a container's stdin, stdout and stderr, window-size
// changes and the end of the caller's input between the CLI and the pod's
// infra (the daemon passes them through unchanged), and the write that
// waits on a reader but notices its own caller leave (WriteWatching,
// HungUp). It links nothing but the standard library's basics and
// x/sys, as the lean init binary uses it.
//
// Every frame is a kind byte, a big-endian uint32 payload length (at most
// MaxPayload) and the payload:
//
//	+-----------+---------------------+-----------------+
//	| kind byte | length uint32 (BE)  | payload         |
//	+-----------+---------------------+-----------------+
//
// The caller sends Stdin, Resize and CloseStdin; the infra sends Stdout
// and Stderr (a terminal's output is all Stdout), then closes the
// connection when the container's run ends.
package attachio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Kind is what a frame carries.
type Kind byte

// Frame kinds.
const (
	// Stdin is input for the container.
	Stdin Kind = 0
	// Stdout and Stderr are the container's output.
	Stdout Kind = 1
	Stderr Kind = 2
	// Resize is the caller's terminal size: rows and columns, two
	// big-endian uint16s.
	Resize Kind = 3
	// CloseStdin says the caller's input ended; with stdinOnce the
	// container's stdin is closed then.
	CloseStdin Kind = 4
)

// MaxPayload caps a frame's payload; writers split longer data.
const MaxPayload = 32 << 10

// ErrBadFrame is wrapped by the errors about a frame no peer should send.
var ErrBadFrame = errors.New("bad attach frame")

// Frame is one decoded frame.
type Frame struct {
	Kind    Kind
	Payload []byte
}

// WriteFrame writes data as frames of kind, split at MaxPayload; an empty
// data writes one empty frame (CloseStdin).
func WriteFrame(w io.Writer, kind Kind, data []byte) error {
	for {
		n := min(len(data), MaxPayload)
		buf := make([]byte, 5, 5+n)
		buf[0] = byte(kind)
		binary.BigEndian.PutUint32(buf[1:], uint32(n))
		if _, err := w.Write(append(buf, data[:n]...)); err != nil {
			return fmt.Errorf("write attach frame: %w", err)
		}
		data = data[n:]
		if len(data) == 0 {
			return nil
		}
	}
}

// ReadFrame reads one frame, refusing an unknown kind or a payload above
// MaxPayload before reading it. io.EOF means the peer closed between
// frames.
func ReadFrame(r io.Reader) (Frame, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return Frame{}, io.EOF
		}
		return Frame{}, fmt.Errorf("read attach frame header: %w", err)
	}
	kind := Kind(hdr[0])
	if kind > CloseStdin {
		return Frame{}, fmt.Errorf("%w: unknown kind %d", ErrBadFrame, kind)
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxPayload {
		return Frame{}, fmt.Errorf("%w: payload of %d bytes, at most %d", ErrBadFrame, n, MaxPayload)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return Frame{}, fmt.Errorf("read attach frame payload: %w", err)
	}
	return Frame{Kind: kind, Payload: payload}, nil
}

// EncodeResize is a Resize payload.
func EncodeResize(rows, cols uint16) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint16(b, rows)
	binary.BigEndian.PutUint16(b[2:], cols)
	return b
}

// DecodeResize reads a Resize payload; a zero size is refused, as no
// terminal has one.
func DecodeResize(p []byte) (rows, cols uint16, err error) {
	if len(p) != 4 {
		return 0, 0, fmt.Errorf("%w: resize payload of %d bytes, want 4", ErrBadFrame, len(p))
	}
	rows, cols = binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:])
	if rows == 0 || cols == 0 {
		return 0, 0, fmt.Errorf("%w: window size %dx%d", ErrBadFrame, rows, cols)
	}
	return rows, cols, nil
}
