//go:build !berthlean

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
	if err != nil {
		s.failWith(w, err)
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

func (f flushWriter) Flush() error { return f.rc.Flush() }

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
