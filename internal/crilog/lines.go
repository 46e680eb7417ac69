package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxJoined bounds a line joined from P records: a container that never
// ends its line must not make the reader buffer without limit. A longer
// line is printed in pieces of this size.
const maxJoined = 1 << 20

// printer turns records into the lines `berth logs` prints: the text
// alone, or with timestamps its RFC3339Nano time first, as kubectl prints
// them. P records are joined with their stream's next records up to the F
// record; the line's time is its first record's. It holds no file and
// makes no syscall: it is the pure core of the Reader.
type printer struct {
	w          io.Writer
	timestamps bool
	// since drops lines older than it; skip drops the next skip lines
	// (--tail).
	since time.Time
	skip  int
	// pending are the joined P records of stdout [0] and stderr [1].
	pending [2]pendingLine
	out     []byte
}

type pendingLine struct {
	t    time.Time
	text []byte
}

// record handles one line of a log file. Malformed lines (a torn write, a
// foreign file) are skipped.
func (p *printer) record(line []byte) error {
	r, err := Parse(line)
	if err != nil {
		return nil
	}
	pl := &p.pending[streamIndex(r.Stream)]
	if len(pl.text) == 0 {
		pl.t = r.Time
	}
	if r.Partial && len(pl.text)+len(r.Text) < maxJoined {
		pl.text = append(pl.text, r.Text...)
		return nil
	}
	t, text := pl.t, r.Text
	if len(pl.text) > 0 {
		text = append(pl.text, r.Text...)
	}
	pl.text = pl.text[:0]
	return p.emit(t, text)
}

func streamIndex(stream string) int {
	if stream == Stderr {
		return 1
	}
	return 0
}

func (p *printer) emit(t time.Time, text []byte) error {
	if p.skip > 0 {
		p.skip--
		return nil
	}
	if !p.since.IsZero() && t.Before(p.since) {
		return nil
	}
	p.out = p.out[:0]
	if p.timestamps {
		p.out = t.UTC().AppendFormat(p.out, time.RFC3339Nano)
		p.out = append(p.out, ' ')
	}
	p.out = append(p.out, text...)
	p.out = append(p.out, '\n')
	_, err := p.w.Write(p.out)
	return err
}

// countLines counts the lines a log text holds: its F records. (A line
// joined past maxJoined prints in pieces but counts as one.)
func countLines(r io.Reader) (int, error) {
	lr := newLineReader(r)
	n := 0
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if rec, err := Parse(line); err == nil && !rec.Partial {
			n++
		}
	}
}

// tailPlan picks where the last n lines begin, given the number of lines
// in each file (in order): the file to start reading at and how many lines
// to skip in it.
func tailPlan(counts []int, n int) (first, skip int) {
	sum := 0
	for i := len(counts) - 1; i >= 0; i-- {
		sum += counts[i]
		if sum >= n {
			return i, sum - n
		}
	}
	return 0, 0
}

// tailText returns the text of the last maxLines lines of a log, cut to
// its last maxBytes bytes. raw is the end of the log; whole says it is the
// whole log, otherwise its first line may be cut and is dropped. Records
// that do not parse are skipped; a line still unfinished at the end comes
// without its newline.
func tailText(raw []byte, whole bool, maxLines, maxBytes int) string {
	lines := bytes.SplitAfter(raw, []byte{'\n'})
	if !whole && len(lines) > 0 {
		lines = lines[1:]
	}
	var out [][]byte
	var cur []byte
	partial := false
	for _, l := range lines {
		r, err := Parse(l)
		if err != nil {
			continue
		}
		cur = append(cur, r.Text...)
		partial = r.Partial
		if !partial {
			out = append(out, append(cur, '\n'))
			cur = nil
		}
	}
	if partial {
		out = append(out, cur)
	}
	if len(out) > maxLines {
		out = out[len(out)-maxLines:]
	}
	text := bytes.Join(out, nil)
	if len(text) > maxBytes {
		text = text[len(text)-maxBytes:]
	}
	return string(text)
}

// lineReader yields the complete lines of a file that may still grow: an
// unfinished last line stays buffered until the rest of it is written.
type lineReader struct {
	r    io.Reader
	buf  []byte
	a, b int // buf[a:b] is unread
}

// lineBuf holds the longest record (16 KiB of text plus its prefix) with
// room to spare; a longer line is not a record and comes out cut.
const lineBuf = 64 << 10

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: r, buf: make([]byte, lineBuf)}
}

// next returns the next complete line without its newline, valid until the
// next call, or io.EOF when no complete line is there yet.
func (lr *lineReader) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.a:lr.b], '\n'); i >= 0 {
			line := lr.buf[lr.a : lr.a+i]
			lr.a += i + 1
			return line, nil
		}
		if lr.b-lr.a == len(lr.buf) {
			line := lr.buf[lr.a:lr.b]
			lr.a, lr.b = 0, 0
			return line, nil
		}
		if lr.a > 0 {
			lr.b = copy(lr.buf, lr.buf[lr.a:lr.b])
			lr.a = 0
		}
		n, err := lr.r.Read(lr.buf[lr.b:])
		lr.b += n
		switch {
		case n > 0:
		case err == nil || errors.Is(err, io.EOF):
			return nil, io.EOF
		default:
			return nil, fmt.Errorf("read container log: %w", err)
		}
	}
}

// fileEntry is a run's log file by name and inode.
type fileEntry struct {
	name string
	ino  uint64
}

// nextFile decides where a follower goes when the file it read (inode
// cur) is complete, given the run's files in order and the name of the
// run's current file: the index of the next file; or -1 with ended when
// cur is the run's last file (its output ended); or -1 alone when the
// next file is not there yet (a rotation is under way).
func nextFile(files []fileEntry, cur uint64, currentName string) (next int, ended bool) {
	for i, f := range files {
		if f.ino != cur {
			continue
		}
		if i+1 < len(files) {
			return i + 1, false
		}
		return -1, f.name == currentName
	}
	// cur was rotated out and deleted: the oldest file left comes next.
	if len(files) > 0 {
		return 0, false
	}
	return -1, false
}
