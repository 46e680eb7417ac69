package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestChunkedReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		err            string // part of the error; "" for none
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"several", "3\r\nabc\r\n1\r\nd\r\na\r\n0123456789\r\n0\r\n\r\n", "abcd0123456789", ""},
		{"extension and trailer", "4;name=v\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\n", "abcd", ""},
		{"upper-case hex, bare LF", "A\n0123456789\n0\n\n", "0123456789", ""},
		{"empty", "0\r\n\r\n", "", ""},
		{"bad size", "zz\r\nabc\r\n0\r\n\r\n", "", "malformed chunk size"},
		{"negative size", "-1\r\n", "", "malformed chunk size"},
		{"data past its size", "2\r\nabc\r\n0\r\n\r\n", "ab", "data past its size"},
		{"cut in the data", "5\r\nhel", "hel", "unexpected EOF"},
		{"cut before the last chunk", "3\r\nabc\r\n", "abc", "unexpected EOF"},
		{"long size line", strings.Repeat("0", 5000) + "\r\n", "", "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(&chunkedReader{r: bufio.NewReaderSize(strings.NewReader(tt.in), 16)})
			if string(got) != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want one with %q", err, tt.err)
			}
		})
	}
}

// serveHTTP serves h with net/http's server on a unix socket, as the
// daemon does, and returns a client of it.
func serveHTTP(t *testing.T, h http.Handler) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return NewClient(sock)
}

// TestRoundTripBodies reads each way net/http's server ends an answer:
// a length, chunks as a handler flushes, nothing (204), an error.
func TestRoundTripBodies(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /length", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Asked") != "yes" || r.Host != "berth" {
			http.Error(w, "headers not sent", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"items":[]}`))
	})
	mux.HandleFunc("GET /chunks", func(w http.ResponseWriter, r *http.Request) {
		for _, s := range []string{"one\n", "two\n", "three\n"} {
			w.Write([]byte(s))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("POST /none", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /missing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"pod default/x not found"}`))
	})
	c := serveHTTP(t, mux)
	ctx := context.Background()
	read := func(method, path string, header map[string]string) (*response, string) {
		t.Helper()
		resp, err := c.roundTrip(ctx, method, path, header)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: read the body: %v", method, path, err)
		}
		return resp, string(b)
	}
	if resp, body := read("GET", "/length", map[string]string{"X-Asked": "yes"}); resp.StatusCode != statusOK || body != `{"items":[]}` {
		t.Errorf("/length: %s %q", resp.Status, body)
	}
	if resp, body := read("GET", "/chunks", nil); resp.StatusCode != statusOK || body != "one\ntwo\nthree\n" || resp.Header.Get("Transfer-Encoding") != "chunked" {
		t.Errorf("/chunks: %s %q (%v)", resp.Status, body, resp.Header)
	}
	if resp, body := read("POST", "/none", nil); resp.StatusCode != statusNoContent || body != "" {
		t.Errorf("/none: %s %q", resp.Status, body)
	}
	resp, err := c.do(ctx, "GET", "/missing")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := decode(resp, nil); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "pod default/x not found") {
		t.Errorf("/missing: %v, want the daemon's message and ErrNotFound", err)
	}
}

// TestRoundTripContextEndsAStream: a streamed answer (logs -f) ends when
// the caller's context does.
func TestRoundTripContextEndsAStream(t *testing.T) {
	t.Parallel()
	c := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := c.roundTrip(ctx, "GET", "/follow", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		_, err := br.ReadString('\n')
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the read after the context's end returned a line")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read went on after the context ended")
	}
}

func TestRoundTripNoDaemon(t *testing.T) {
	t.Parallel()
	c := NewClient(filepath.Join(t.TempDir(), "none.sock"))
	if _, err := c.roundTrip(context.Background(), "GET", "/v1/pods", nil); err == nil || !strings.Contains(err.Error(), "is `berth daemon` running?") {
		t.Errorf("roundTrip: %v, want the hint to start the daemon", err)
	}
}
