package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// LogOptions are the query of GET /v1/pods/{ns}/{name}/log, as kubectl
// logs takes them.
type LogOptions struct {
	// Container may be empty when the pod has one container.
	Container string
	// Follow keeps streaming, into the container's next runs, until the
	// pod is deleted or the client goes away.
	Follow bool
	// Previous reads the run before the current one.
	Previous bool
	// Timestamps prefixes each line with its RFC3339Nano time.
	Timestamps bool
	// Tail is how many of the last lines to print; negative means all.
	Tail int
	// Since, when positive, skips lines older than that.
	Since time.Duration
}

// LogBackend is implemented by a Backend that serves container logs.
type LogBackend interface {
	// Logs finds what to read; its errors (ErrNotFound, ErrBadRequest,
	// others) are answered before any line is sent.
	Logs(ctx context.Context, namespace, name string, opts LogOptions) (LogStream, error)
}

// LogStream writes a container's log lines.
type LogStream interface {
	// Copy writes the lines to w, flushing w whenever it has to wait for
	// more, until the log ends or ctx is done.
	Copy(ctx context.Context, w Flusher) error
	Close() error
}

// Flusher is a writer that can push what it buffered to the client.
type Flusher interface {
	io.Writer
	Flush() error
}

// ErrBadRequest marks a request that cannot be served as asked (no
// container named when the pod has several, no previous run, ...).
var ErrBadRequest = errors.New("bad request")

// logs serves GET /v1/pods/{ns}/{name}/log: plain text, streamed.
func (s *server) logs(w http.ResponseWriter, r *http.Request) {
	lb, ok := s.b.(LogBackend)
	if !ok {
		s.fail(w, http.StatusNotImplemented, errors.New("this daemon does not serve logs"))
		return
	}
	opts, err := parseLogQuery(r.URL.Query())
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	ns, name := r.PathValue("ns"), r.PathValue("name")
	st, err := lb.Logs(r.Context(), ns, name, opts)
	switch {
	case errors.Is(err, ErrNotFound):
		s.fail(w, http.StatusNotFound, err)
		return
	case errors.Is(err, ErrBadRequest):
		s.fail(w, http.StatusBadRequest, err)
		return
	case err != nil:
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	defer st.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	err = st.Copy(r.Context(), flushWriter{w: w, rc: rc})
	// The status line is sent: a failure can only end the stream early.
	if err != nil && r.Context().Err() == nil {
		s.log.Warn("log stream ended early", "pod", ns+"/"+name, "container", opts.Container, "err", err)
	}
}

type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) { return f.w.Write(p) }
func (f flushWriter) Flush() error                { return f.rc.Flush() }

// parseLogQuery reads LogOptions from a query; absent values are the
// defaults (all lines, no follow).
func parseLogQuery(q url.Values) (LogOptions, error) {
	o := LogOptions{Container: q.Get("container"), Tail: -1}
	var errs []error
	flag := func(key string) bool {
		v := q.Get(key)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", key, v))
		}
		return b
	}
	o.Follow, o.Previous, o.Timestamps = flag("follow"), flag("previous"), flag("timestamps")
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("tail=%q: want a number of lines", v))
		}
		o.Tail = n
	}
	if v := q.Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("since=%q: want a positive duration such as 5s, 2m or 3h", v))
		}
		o.Since = d
	}
	return o, errors.Join(errs...)
}

// logQuery is the inverse of parseLogQuery.
func logQuery(o LogOptions) url.Values {
	q := url.Values{}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	for key, b := range map[string]bool{"follow": o.Follow, "previous": o.Previous, "timestamps": o.Timestamps} {
		if b {
			q.Set(key, "true")
		}
	}
	if o.Tail >= 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	if o.Since > 0 {
		q.Set("since", o.Since.String())
	}
	return q
}

// Logs streams a container's log lines to w until the log ends (or, when
// following, until the pod is deleted or ctx is done).
func (c *Client) Logs(ctx context.Context, namespace, name string, opts LogOptions, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, podPath(namespace, name)+"/log?"+logQuery(opts).Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decode(resp, nil)
	}
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read logs of pod %s/%s: %w", namespace, name, err)
	}
	return nil
}
