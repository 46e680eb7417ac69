package crilog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// The streams of a record.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// MaxRecordText is the longest line written as one record; longer lines
// are split into P records followed by an F record.
const MaxRecordText = 16 << 10

const (
	tagFull    = 'F'
	tagPartial = 'P'
	// recordTime is RFC3339Nano with a fixed nine-digit fraction, so that
	// log lines sort and align.
	recordTime = "2006-01-02T15:04:05.000000000Z07:00"
)

// appendRecord appends one record for text (without its newline).
func appendRecord(dst []byte, t time.Time, stream string, partial bool, text []byte) []byte {
	dst = t.UTC().AppendFormat(dst, recordTime)
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

// Copy reads stream r until EOF and writes each line to w as one record
// with a single Write (w is shared by stdout and stderr: a Writer, whose
// file is opened O_APPEND, so records never interleave). A line longer
// than 16 KiB goes out as P records and a last F record; a trailing line
// without newline is written as a full record at EOF.
func Copy(w io.Writer, r io.Reader, stream string, now func() time.Time) error {
	br := bufio.NewReaderSize(r, MaxRecordText)
	rec := make([]byte, 0, MaxRecordText+64)
	for {
		line, err := br.ReadSlice('\n')
		partial := errors.Is(err, bufio.ErrBufferFull)
		if len(line) > 0 {
			text := line
			if !partial && text[len(text)-1] == '\n' {
				text = text[:len(text)-1]
			}
			rec = appendRecord(rec[:0], now(), stream, partial, text)
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

// Record is one parsed record.
type Record struct {
	Time   time.Time
	Stream string
	// Partial is set for a P record: the text continues in the stream's
	// next record.
	Partial bool
	// Text is the record's text without its newline; it aliases the
	// parsed line.
	Text []byte
}

// ErrBadRecord is wrapped by Parse's errors.
var ErrBadRecord = errors.New("malformed CRI log record")

// Parse parses one record, with or without its newline:
// "<RFC3339Nano time> <stdout|stderr> <P|F> <text>".
func Parse(line []byte) (Record, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return Record{}, fmt.Errorf("%w: no time", ErrBadRecord)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return Record{}, fmt.Errorf("%w: time: %w", ErrBadRecord, err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	var r Record
	switch string(stream) {
	case Stdout:
		r.Stream = Stdout
	case Stderr:
		r.Stream = Stderr
	default:
		ok = false
	}
	if !ok {
		return Record{}, fmt.Errorf("%w: stream %q", ErrBadRecord, stream)
	}
	// The tag may be followed by ":"-separated attributes (CRI allows
	// them); only the first, P or F, means something here.
	tag, text, _ := bytes.Cut(rest, []byte{' '})
	tag, _, _ = bytes.Cut(tag, []byte{':'})
	if len(tag) != 1 || (tag[0] != tagFull && tag[0] != tagPartial) {
		return Record{}, fmt.Errorf("%w: tag %q", ErrBadRecord, tag)
	}
	r.Time, r.Partial, r.Text = t, tag[0] == tagPartial, text
	return r, nil
}
