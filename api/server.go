//go:build !berthlean

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
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Backend is what the daemon exposes through the API.
type Backend interface {
	// Pods lists every pod berth knows: running ones and ones whose
	// manifest could not be started (with the reason in their status).
	Pods(ctx context.Context) ([]Pod, error)
	// Events returns the events last seen after since, oldest first: the
	// daemon's own and those the pods' infras keep.
	Events(ctx context.Context, since time.Time) ([]Event, error)
	// Pod returns one pod; it asks only that pod's infra, so that waiting
	// for one pod costs nothing per other pod.
	Pod(ctx context.Context, namespace, name string) (Pod, bool, error)
	// Reconcile runs a reconcile pass now and returns when it has finished.
	Reconcile(ctx context.Context) error
	ExecBackend
	AttachBackend
}

// Handler serves the API:
//
//	GET  /v1/pods                          PodList
//	GET  /v1/pods/{ns}/{name}[?wait=settled|gone&timeout=30s]
//	                                       Pod (404 when absent; with wait=gone
//	                                       204 once it is absent)
//	GET  /v1/events[?since=RFC3339Nano&object=pod/ns/name]
//	                                       []Event, oldest first
//	POST /v1/reconcile[?pod=ns/name...]   runs a pass, 204 when done; with
//	                                       pods named, []PodBrief of those
//	                                       that exist after it
//	GET  /v1/pods/{ns}/{name}/exec-target[?container=C]
//	                                       ExecTarget (404 no such pod or
//	                                       container, 409 not running)
//	GET  /v1/pods/{ns}/{name}/log[?container=&follow=&previous=&tail=&since=&timestamps=]
//	                                       the log lines as text, streamed (see LogOptions)
//	POST /v1/pods/{ns}/{name}/attach?stdin=&tty=[&container=C]  (Upgrade: berth-attach)
//	                                       101, then internal/attachio frames both
//	                                       ways (404, 409 not running, 400 refused)
//	GET  /metrics                          Prometheus metrics (a MetricsBackend only)
func Handler(b Backend, log *slog.Logger) http.Handler {
	s := &server{b: b, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/pods", s.listPods)
	mux.HandleFunc("GET /v1/pods/{ns}/{name}", s.getPod)
	mux.HandleFunc("GET /v1/events", s.events)
	mux.HandleFunc("POST /v1/reconcile", s.reconcile)
	mux.HandleFunc("GET /v1/pods/{ns}/{name}/exec-target", s.execTarget)
	mux.HandleFunc("GET /v1/pods/{ns}/{name}/log", s.logs)
	mux.HandleFunc("POST /v1/pods/{ns}/{name}/attach", s.attach)
	if mb, ok := b.(MetricsBackend); ok {
		mux.Handle("GET /metrics", mb.MetricsHandler())
	}
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
	return s.b.Pod(ctx, ns, name)
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
	all, err := s.b.Events(r.Context(), since)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	ev := []Event{}
	object := r.URL.Query().Get("object")
	for _, e := range all {
		if object == "" || e.Object == object {
			ev = append(ev, e)
		}
	}
	writeJSON(w, ev)
}

func (s *server) reconcile(w http.ResponseWriter, r *http.Request) {
	var named []PodKey
	for _, k := range r.URL.Query()["pod"] {
		ns, name, ok := strings.Cut(k, "/")
		if !ok || ns == "" || name == "" {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("pod %q: want namespace/name", k))
			return
		}
		named = append(named, PodKey{Namespace: ns, Name: name})
	}
	if err := s.b.Reconcile(r.Context()); err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	if len(named) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	briefs := []PodBrief{}
	for _, k := range named {
		p, found, err := s.find(r.Context(), k.Namespace, k.Name)
		if err != nil {
			s.fail(w, http.StatusInternalServerError, err)
			return
		}
		if found {
			briefs = append(briefs, Brief(p))
		}
	}
	writeJSON(w, briefs)
}

// failWith answers err with the status its sentinel stands for: a backend
// error that is none of them is the daemon's (500).
func (s *server) failWith(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrNotRunning):
		code = http.StatusConflict
	case errors.Is(err, ErrAttachRefused), errors.Is(err, ErrBadRequest):
		code = http.StatusBadRequest
	}
	s.fail(w, code, err)
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

// Listen creates the daemon's socket: path-based (never abstract), owned
// by root and mode 0600, or 0660 with group gid when gid >= 0, so that the
// members of one group may use berth without root (docs/security.md rule
// 3). A stale socket left by a crashed daemon is replaced.
//
// The socket is bound under a private 0700 directory, given its owner and
// mode there, and only then renamed into place: it is never reachable with
// looser permissions, whatever the umask.
func Listen(path string, gid int) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory for %s: %w", path, err)
	}
	private, err := os.MkdirTemp(dir, ".berth-sock-")
	if err != nil {
		return nil, fmt.Errorf("create private directory for socket %s: %w", path, err)
	}
	defer os.RemoveAll(private)
	tmp := filepath.Join(private, "s")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The bound name changes with the rename below; Close removes path.
	l.SetUnlinkOnClose(false)
	if err := setSocketAccess(tmp, gid); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		return nil, fmt.Errorf("move socket into place at %s: %w", path, err)
	}
	return &socketListener{UnixListener: l, path: path}, nil
}

// setSocketAccess gives the socket at p its owner and mode.
func setSocketAccess(p string, gid int) error {
	mode := os.FileMode(0o600)
	if gid >= 0 {
		if err := os.Lchown(p, 0, gid); err != nil {
			return fmt.Errorf("chown to group %d: %w", gid, err)
		}
		mode = 0o660
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("chmod %o: %w", mode, err)
	}
	return nil
}

// LookupGroup returns the gid of the group named name (or given as a
// number), for the --socket-group flag.
func LookupGroup(name string) (int, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		g, err = user.LookupGroupId(name)
	}
	if err != nil {
		return 0, fmt.Errorf("socket group %q: %w", name, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("socket group %q has gid %q: %w", name, g.Gid, err)
	}
	return gid, nil
}

// socketListener removes the socket file when closed.
type socketListener struct {
	*net.UnixListener
	path string
}

func (l *socketListener) Close() error {
	err := l.UnixListener.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("remove socket %s: %w", l.path, rerr))
	}
	return err
}

// Serve runs the API on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ConnContext: withConn}
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
