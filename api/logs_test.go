//go:build !berthlean

package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLogQueryRoundTrip(t *testing.T) {
	for _, o := range []LogOptions{
		{Tail: -1},
		{Container: "c", Follow: true, Previous: true, Timestamps: true, Tail: 0, Since: 90 * time.Second},
		{Tail: 20, Since: time.Millisecond},
	} {
		got, err := parseLogQuery(logQuery(o))
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Errorf("round trip of %+v = %+v, %v", o, got, err)
		}
	}
}

func TestParseLogQueryErrors(t *testing.T) {
	for _, q := range []string{"follow=maybe", "tail=x", "since=-5s", "since=5"} {
		v, _ := url.ParseQuery(q)
		if _, err := parseLogQuery(v); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
}

// logsOnly is a Backend that serves nothing but logs.
type logsOnly struct {
	Backend
	err   error
	lines string
}

func (b logsOnly) Logs(_ context.Context, ns, name string, o LogOptions) (LogStream, error) {
	if b.err != nil {
		return nil, b.err
	}
	return fixedStream(fmt.Sprintf("%s/%s %+v\n%s", ns, name, o, b.lines)), nil
}

type fixedStream string

func (s fixedStream) Copy(_ context.Context, w Flusher) error {
	if _, err := io.WriteString(w, string(s)); err != nil {
		return err
	}
	return w.Flush()
}
func (fixedStream) Close() error { return nil }

func TestLogsEndpoint(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name     string
		b        Backend
		query    string
		wantCode int
		wantBody string
	}{
		{"lines", logsOnly{lines: "a\nb\n"}, "?container=c&tail=2", 200, "ns/p {Container:c Follow:false Previous:false Timestamps:false Tail:2 Since:0s}\na\nb\n"},
		{"not found", logsOnly{err: fmt.Errorf("pod p: %w", ErrNotFound)}, "", 404, "pod p: not found"},
		{"bad request", logsOnly{err: fmt.Errorf("choose one: %w", ErrBadRequest)}, "", 400, "choose one"},
		{"bad query", logsOnly{}, "?tail=many", 400, "tail"},
		{"no log backend", struct{ Backend }{}, "", 501, "does not serve logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(tt.b, log).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/pods/ns/p/log"+tt.query, nil))
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}
