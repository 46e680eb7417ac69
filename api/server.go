package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Backend is what the daemon exposes through the API.
type Backend interface {
	// Pods lists every pod berth knows: running ones and ones whose
	// manifest could not be started (with the reason in their status).
	Pods(ctx context.Context) ([]Pod, error)
	// Events returns the events recorded after since, oldest first.
	Events(since time.Time) []Event
	// Reconcile runs a reconcile pass now and returns when it has finished.
	Reconcile(ctx context.Context) error
}

// Wait conditions for GET /v1/pods/{ns}/{name}?wait=...
const (
	WaitSettled = "settled" // running, finished, or failed to start
	WaitGone    = "gone"    // no longer exists
)

// Handler serves the API:
//
//	GET  /v1/pods                          PodList
//	GET  /v1/pods/{ns}/{name}[?wait=settled|gone&timeout=30s]
//	                                       Pod (404 when absent; with wait=gone
//	                                       204 once it is absent)
//	GET  /v1/events[?since=RFC3339Nano]    []Event
//	POST /v1/reconcile                     runs a pass, 204 when done
func Handler(b Backend, log *slog.Logger) http.Handler {
	s := &server{b: b, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/pods", s.listPods)
	mux.HandleFunc("GET /v1/pods/{ns}/{name}", s.getPod)
	mux.HandleFunc("GET /v1/events", s.events)
	mux.HandleFunc("POST /v1/reconcile", s.reconcile)
	return mux
}

type server struct {
	b   Backend
	log *slog.Logger
}

func (s *server) listPods(w http.ResponseWriter, r *http.Request) {
	pods, err := s.b.Pods(r.Context())
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, PodList{APIVersion: "v1", Kind: "List", Items: pods})
}

// pollInterval is how often a waiting request re-reads pod state.
const pollInterval = 10 * time.Millisecond

func (s *server) getPod(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	wait := r.URL.Query().Get("wait")
	timeout := 30 * time.Second
	if t := r.URL.Query().Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("timeout %q: %w", t, err))
			return
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		p, found, err := s.find(ctx, ns, name)
		if err != nil {
			s.fail(w, http.StatusInternalServerError, err)
			return
		}
		switch {
		case wait == WaitGone && !found:
			w.WriteHeader(http.StatusNoContent)
			return
		case wait == WaitSettled && found && Settled(p):
			writeJSON(w, p)
			return
		case wait == "" && found:
			writeJSON(w, p)
			return
		case wait == "" && !found:
			s.fail(w, http.StatusNotFound, fmt.Errorf("pod %s/%s not found", ns, name))
			return
		}
		select {
		case <-ctx.Done():
			if found {
				w.Header().Set("X-Berth-Timeout", "1")
				writeJSON(w, p)
				return
			}
			s.fail(w, http.StatusNotFound, fmt.Errorf("pod %s/%s not found", ns, name))
			return
		case <-tick.C:
		}
	}
}

func (s *server) find(ctx context.Context, ns, name string) (Pod, bool, error) {
	pods, err := s.b.Pods(ctx)
	if err != nil {
		return Pod{}, false, err
	}
	for _, p := range pods {
		if p.Metadata.Namespace == ns && p.Metadata.Name == name {
			return p, true, nil
		}
	}
	return Pod{}, false, nil
}

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("since %q: %w", v, err))
			return
		}
		since = t
	}
	ev := s.b.Events(since)
	if ev == nil {
		ev = []Event{}
	}
	writeJSON(w, ev)
}

func (s *server) reconcile(w http.ResponseWriter, r *http.Request) {
	if err := s.b.Reconcile(r.Context()); err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type errorBody struct {
	Error string `json:"error"`
}

func (s *server) fail(w http.ResponseWriter, code int, err error) {
	if code >= 500 {
		s.log.Error("api request failed", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(errorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Listen creates the daemon's socket: path-based (never abstract), in a
// directory only root can enter, the socket itself 0600 (notes/security.md
// rule 3). A stale socket left by a crashed daemon is replaced.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory for %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return l, nil
}

// Serve runs the API on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve API: %w", err)
	}
	return nil
}
