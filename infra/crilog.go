package infra

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// Streams and tags of the CRI log format:
//
//	2026-01-02T15:04:05.000000000Z stdout F a full line
//	2026-01-02T15:04:05.000000000Z stderr P first 16 KiB of a long line
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	tagFull      = 'F'
	tagPartial   = 'P'
	// logLineMax is the longest line written as one record; longer lines
	// are split into P records followed by an F record.
	logLineMax = 16 << 10
	// criTime is RFC3339Nano with a fixed nine-digit fraction, so that log
	// lines sort and align.
	criTime = "2006-01-02T15:04:05.000000000Z07:00"
)

// appendCRI appends one CRI log record for text (without its newline).
func appendCRI(dst []byte, t time.Time, stream string, partial bool, text []byte) []byte {
	dst = t.UTC().AppendFormat(dst, criTime)
	dst = append(dst, ' ')
	dst = append(dst, stream...)
	dst = append(dst, ' ')
	if partial {
		dst = append(dst, tagPartial)
	} else {
		dst = append(dst, tagFull)
	}
	dst = append(dst, ' ')
	dst = append(dst, text...)
	return append(dst, '\n')
}

// copyCRI reads stream r until EOF and writes each line to w as one CRI
// record with a single Write (w is shared by stdout and stderr and opened
// O_APPEND, so records never interleave). A trailing line without newline
// is written as a full record at EOF.
func copyCRI(w io.Writer, r io.Reader, stream string, now func() time.Time) error {
	br := bufio.NewReaderSize(r, logLineMax)
	rec := make([]byte, 0, logLineMax+64)
	for {
		line, err := br.ReadSlice('\n')
		partial := errors.Is(err, bufio.ErrBufferFull)
		if len(line) > 0 {
			text := line
			if !partial && text[len(text)-1] == '\n' {
				text = text[:len(text)-1]
			}
			rec = appendCRI(rec[:0], now(), stream, partial, text)
			if _, werr := w.Write(rec); werr != nil {
				return fmt.Errorf("write %s log record: %w", stream, werr)
			}
		}
		switch {
		case err == nil || partial:
		case errors.Is(err, io.EOF):
			return nil
		default:
			return fmt.Errorf("read %s: %w", stream, err)
		}
	}
}

// LogRecord is one parsed CRI log record.
type LogRecord struct {
	Time   time.Time
	Stream string
	// Partial is set for a P record: the text continues in the stream's
	// next record.
	Partial bool
	// Text is the record's text without its newline; it aliases the
	// parsed line.
	Text []byte
}

// ErrBadRecord is wrapped by ParseCRI's errors.
var ErrBadRecord = errors.New("malformed CRI log record")

// ParseCRI parses one CRI log line, with or without its newline:
// "<RFC3339Nano time> <stdout|stderr> <P|F> <text>".
func ParseCRI(line []byte) (LogRecord, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return LogRecord{}, fmt.Errorf("%w: no time", ErrBadRecord)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return LogRecord{}, fmt.Errorf("%w: time: %w", ErrBadRecord, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	var r LogRecord
	switch string(stream) {
	case StreamStdout:
		r.Stream = StreamStdout
	case StreamStderr:
		r.Stream = StreamStderr
	default:
		ok = false
	}
	if !ok {
		return LogRecord{}, fmt.Errorf("%w: stream %q", ErrBadRecord, stream)
	}
	// The tag may be followed by ":"-separated attributes (CRI allows
	// them); only the first, P or F, means something here.
	tag, text, _ := bytes.Cut(rest, []byte{' '})
	tag, _, _ = bytes.Cut(tag, []byte{':'})
	if len(tag) != 1 || (tag[0] != tagFull && tag[0] != tagPartial) {
		return LogRecord{}, fmt.Errorf("%w: tag %q", ErrBadRecord, tag)
	}
	r.Time, r.Partial, r.Text = t, tag[0] == tagPartial, text
	return r, nil
}
