package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/pod"
)

var _ api.LogBackend = (*backend)(nil)

// Logs implements api.LogBackend: it finds the container and run a request
// means, from the pod's status, and opens that run's files in the pod's log
// directory (the infra writes them; the daemon only reads).
func (b *backend) Logs(ctx context.Context, namespace, name string, opts api.LogOptions) (api.LogStream, error) {
	p, err := b.findPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	ctr, err := pickContainer(p, opts.Container)
	if err != nil {
		return nil, err
	}
	st := findStatus(p, ctr)
	run, err := pickRun(p, ctr, st, opts.Previous)
	if err != nil {
		return nil, err
	}
	// Only the Logs member of the layout is used: it is derived from the
	// pod's identity and uid alone.
	dir := filepath.Join(pod.NewLayout("", "", b.logDir, namespace, name, p.Metadata.UID).Logs, ctr)
	s := &logStream{
		dir: dir, run: run, tail: opts.Tail,
		// The previous run is over: there is nothing to follow.
		follow: opts.Follow && !opts.Previous,
		state: func(ctx context.Context) (int, bool, bool) {
			return b.containerState(ctx, namespace, name, p.Metadata.UID, ctr)
		},
	}
	s.lines.timestamps = opts.Timestamps
	if opts.Since > 0 {
		s.lines.since = time.Now().Add(-opts.Since)
	}
	if s.files, err = openRun(dir, run); err != nil {
		return nil, err
	}
	if len(s.files) == 0 && !s.follow {
		msg := fmt.Sprintf("container %q in pod %q is waiting to start", ctr, name)
		if st != nil && st.State.Waiting != nil && st.State.Waiting.Reason != "" {
			msg += ": " + st.State.Waiting.Reason
		}
		return nil, fmt.Errorf("%s: %w", msg, api.ErrBadRequest)
	}
	return s, nil
}

func (b *backend) findPod(ctx context.Context, namespace, name string) (api.Pod, error) {
	pods, err := b.Pods(ctx)
	if err != nil {
		return api.Pod{}, err
	}
	for _, p := range pods {
		if p.Metadata.Namespace == namespace && p.Metadata.Name == name {
			return p, nil
		}
	}
	return api.Pod{}, fmt.Errorf("pod %q not found in namespace %q: %w", name, namespace, api.ErrNotFound)
}

// containerState is what a follower needs to decide whether a run that
// ended is the last: the container's restart count and whether it has
// terminated for good; ok is false once the pod (this uid) is gone.
func (b *backend) containerState(ctx context.Context, namespace, name, uid, ctr string) (restarts int, final, ok bool) {
	p, err := b.findPod(ctx, namespace, name)
	if err != nil || p.Metadata.UID != uid {
		return 0, false, false
	}
	st := findStatus(p, ctr)
	if st == nil {
		return 0, false, true
	}
	return int(st.RestartCount), st.State.Terminated != nil, true
}

// pickContainer returns the container a request means; as kubectl, the
// name may be left out when the pod has one container.
func pickContainer(p api.Pod, name string) (string, error) {
	var names, inits []string
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range p.Spec.InitContainers {
		inits = append(inits, c.Name)
	}
	if name == "" {
		if len(names) == 1 {
			return names[0], nil
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", p.Metadata.Name, strings.Join(names, " "))
		if len(inits) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: [%s]", strings.Join(inits, " "))
		}
		return "", fmt.Errorf("%s: %w", msg, api.ErrBadRequest)
	}
	for _, n := range append(names, inits...) {
		if n == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("container %s is not valid for pod %s: %w", name, p.Metadata.Name, api.ErrBadRequest)
}

func findStatus(p api.Pod, ctr string) *api.ContainerStatus {
	for _, list := range [][]api.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			if list[i].Name == ctr {
				return &list[i]
			}
		}
	}
	return nil
}

// pickRun is the run whose log a request means: the container's current
// run is its restart count (the infra names run files after it), the
// previous one the run before.
func pickRun(p api.Pod, ctr string, st *api.ContainerStatus, previous bool) (int, error) {
	run := 0
	if st != nil {
		run = int(st.RestartCount)
	}
	if !previous {
		return run, nil
	}
	if run == 0 {
		return 0, fmt.Errorf("previous terminated container %q in pod %q not found: %w", ctr, p.Metadata.Name, api.ErrBadRequest)
	}
	return run - 1, nil
}

// openRun opens run's files in dir in the order they were written. A file
// that went away between listing and opening (rotated out) is skipped; a
// missing dir means no files yet.
func openRun(dir string, run int) ([]*os.File, error) {
	names, err := listDir(dir)
	if err != nil {
		return nil, err
	}
	var out []*os.File
	for _, n := range infra.RunLogFiles(names, run) {
		f, err := openLogFile(filepath.Join(dir, n))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func listDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list container logs: %w", err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	return f, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// maxJoined bounds a line joined from P records: a container that never
// ends its line must not make the daemon buffer without limit. A longer
// line is printed in pieces of this size.
const maxJoined = 1 << 20

// lineWriter turns CRI records into the lines `berth logs` prints: the
// text alone, or with --timestamps its RFC3339Nano time first, as kubectl
// prints them. P records are joined with their stream's next records up to
// the F record; the line's time is its first record's. It holds no file
// and makes no syscall: it is the pure core of the reader.
type lineWriter struct {
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

// record handles one line of a CRI log file. Malformed lines (a torn
// write, a foreign file) are skipped.
func (lw *lineWriter) record(line []byte) error {
	r, err := infra.ParseCRI(line)
	if err != nil {
		return nil
	}
	p := &lw.pending[streamIndex(r.Stream)]
	if len(p.text) == 0 {
		p.t = r.Time
	}
	if r.Partial && len(p.text)+len(r.Text) < maxJoined {
		p.text = append(p.text, r.Text...)
		return nil
	}
	t, text := p.t, r.Text
	if len(p.text) > 0 {
		text = append(p.text, r.Text...)
	}
	p.text = p.text[:0]
	return lw.emit(t, text)
}

func streamIndex(stream string) int {
	if stream == infra.StreamStderr {
		return 1
	}
	return 0
}

func (lw *lineWriter) emit(t time.Time, text []byte) error {
	if lw.skip > 0 {
		lw.skip--
		return nil
	}
	if !lw.since.IsZero() && t.Before(lw.since) {
		return nil
	}
	lw.out = lw.out[:0]
	if lw.timestamps {
		lw.out = t.UTC().AppendFormat(lw.out, time.RFC3339Nano)
		lw.out = append(lw.out, ' ')
	}
	lw.out = append(lw.out, text...)
	lw.out = append(lw.out, '\n')
	_, err := lw.w.Write(lw.out)
	return err
}

// countLines counts the lines a CRI log text holds: its F records. (A
// line joined past maxJoined prints in pieces but counts as one.)
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
		if rec, err := infra.ParseCRI(line); err == nil && !rec.Partial {
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

// lineReader yields the complete lines of a file that may still grow: an
// unfinished last line stays buffered until the rest of it is written.
type lineReader struct {
	r    io.Reader
	buf  []byte
	a, b int // buf[a:b] is unread
}

// lineBuf holds the longest CRI record (16 KiB of text plus its prefix)
// with room to spare; a longer line is not a record and comes out cut.
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
