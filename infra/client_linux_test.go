package infra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// TestEnvFromAnOldInfra: an infra of protocol version 1 (pods started
// before an upgrade keep theirs) answers the env op with "unsupported op",
// which the client reports as ErrUnsupported so the caller can fall back.
func TestEnvFromAnOldInfra(t *testing.T) {
	sock, _ := refusingInfra(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := NewClient(sock).Env(ctx, "app"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Env from a version 1 infra = %v, want ErrUnsupported", err)
	}
}

// TestCallsHaveDeadlines: an infra that accepts and never answers fails
// each call at the client's own deadline, even when the caller's context
// has none.
func TestCallsHaveDeadlines(t *testing.T) {
	testutil.RequireRoot(t) // the client insists on a root peer
	sock := filepath.Join(t.TempDir(), "infra.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	// Accepted connections stay open, unanswered, until the listener goes.
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepted
	})
	c := NewClient(sock)
	c.timeout = 100 * time.Millisecond
	calls := map[string]func() error{
		"status":   func() error { _, err := c.Status(context.Background()); return err },
		"env":      func() error { _, err := c.Env(context.Background(), "app"); return err },
		"setenv":   func() error { return c.SetEnv(context.Background(), map[string][]string{"app": nil}) },
		"stop":     func() error { return c.Stop(context.Background(), 0) },
		"kill":     func() error { return c.Kill(context.Background(), "app", 0, "") },
		"shutdown": func() error { return c.Shutdown(context.Background()) },
	}
	for name, call := range calls {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s to a silent infra = %v, want a deadline error", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s to a silent infra never returned", name)
		}
	}
}

// rawCall sends req as it is (its version unchanged) and reads the answer.
func rawCall(t *testing.T, sock string, req Request) Response {
	t.Helper()
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writeFrame(conn, req); err != nil {
		t.Fatal(err)
	}
	var resp Response
	if err := readFrame(conn, &resp); err != nil {
		t.Fatalf("%s request of protocol %d: no answer: %v", req.Op, req.Version, err)
	}
	return resp
}

// TestProtocolVersionsOfDaemonAndInfra runs this infra's server: a daemon
// of an older protocol (a downgrade, or requests of the previous release)
// is served, since fields are only added; a request below MinDaemonVersion
// is refused with an answer naming both versions, and changes nothing.
// (A newer daemon driving an older infra is TestEnvFromAnOldInfra here and
// the upgrade test in e2e.)
func TestProtocolVersionsOfDaemonAndInfra(t *testing.T) {
	testutil.RequireRoot(t) // the server insists on a root peer
	sock := filepath.Join(t.TempDir(), "infra.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	s := newServer(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ln, nil, PodStatus{PID: 7}, startJoin(cfg.Key, nil))
	done := make(chan struct{})
	go s.accept()
	go func() {
		for {
			select {
			case f := <-s.events:
				f()
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(done)
	})

	old := rawCall(t, sock, Request{Version: 3, Op: OpStatus})
	if old.Error != "" || old.Version != ProtocolVersion || old.Status == nil || old.Status.PID != 7 {
		t.Errorf("status for a protocol 3 daemon: %+v", old)
	}
	refused := rawCall(t, sock, Request{Version: MinDaemonVersion - 1, Op: OpShutdown})
	if !strings.Contains(refused.Error, "refused") || !strings.Contains(refused.Error, fmt.Sprint(ProtocolVersion)) || refused.Status != nil {
		t.Errorf("shutdown from below protocol %d: %+v, want a refusal", MinDaemonVersion, refused)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := NewClient(sock).Status(ctx); err != nil || st.Version != ProtocolVersion || st.PID != 7 {
		t.Errorf("status after the refusal: %+v, %v", st, err)
	}
}

// TestKillFromAnOldInfra: a daemon asking an infra of protocol version 3
// (started before OpKill existed) to kill a container gets ErrUnsupported,
// so that it can log it and leave the pod running.
func TestKillFromAnOldInfra(t *testing.T) {
	sock, got := refusingInfra(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := NewClient(sock).Kill(ctx, "app", time.Second, "why"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Kill from a version 3 infra = %v, want ErrUnsupported", err)
	}
	if req := <-got; req.Op != OpKill || req.Container != "app" || req.GraceMillis != 1000 || req.Message != "why" || req.Version != ProtocolVersion {
		t.Errorf("request = %+v", req)
	}
}

// TestAttachToAnOldInfra: an infra of protocol version 5 (started before
// OpAttach existed) gives ErrUnsupported; a refusal keeps its sentinel
// across the socket.
func TestAttachToAnOldInfra(t *testing.T) {
	testutil.RequireRoot(t) // the client insists on a root peer
	for _, tc := range []struct {
		resp Response
		is   error
	}{
		{Response{Version: 5, Error: `unsupported op "attach" (infra protocol version 5)`}, ErrUnsupported},
		{Response{Version: ProtocolVersion, Error: ErrAttachRefused.Error() + ": container app takes no input"}, ErrAttachRefused},
	} {
		sock, got := answeringInfra(t, func(Request) Response { return tc.resp })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := NewClient(sock).Attach(ctx, "app", true, false)
		cancel()
		if conn != nil || !errors.Is(err, tc.is) {
			t.Errorf("Attach answered %+v: %v, want %v", tc.resp, err, tc.is)
		}
		if req := <-got; req.Op != OpAttach || req.Container != "app" || !req.Stdin || req.TTY || req.Version != ProtocolVersion {
			t.Errorf("request = %+v", req)
		}
	}
}

// TestUpdateFromAnOldInfra: an infra before protocol version 8 refuses
// OpUpdate, which the client turns into ErrUnsupported (the daemon then
// replaces the pod).
func TestUpdateFromAnOldInfra(t *testing.T) {
	sock, got := refusingInfra(t, 7)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := NewClient(sock).Update(ctx, []ContainerConfig{{Name: "app"}}, time.Second); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Update from a version 7 infra = %v, want ErrUnsupported", err)
	}
	if req := <-got; req.Op != OpUpdate || len(req.Containers) != 1 || req.GraceMillis != 1000 {
		t.Errorf("request = %+v", req)
	}
}

// TestHoldRestartsFromAnOldInfra: an infra of protocol 8 refuses the op,
// and the daemon gets ErrUnsupported (its pod's preStop hooks run all the
// same, with restarts possible meanwhile).
func TestHoldRestartsFromAnOldInfra(t *testing.T) {
	sock, _ := refusingInfra(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := NewClient(sock).HoldRestarts(ctx); !errors.Is(err, ErrUnsupported) {
		t.Errorf("HoldRestarts from a version 8 infra = %v, want ErrUnsupported", err)
	}
}

// TestPreStoppedFromAnOldInfra: an infra of protocol 11 refuses the op,
// and the daemon gets ErrUnsupported (such an infra never waits for a
// sidecar's preStop hook: no pod of it has one).
func TestPreStoppedFromAnOldInfra(t *testing.T) {
	sock, got := refusingInfra(t, 11)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	run := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := NewClient(sock).PreStopped(ctx, "side", run); !errors.Is(err, ErrUnsupported) {
		t.Errorf("PreStopped from a version 11 infra = %v, want ErrUnsupported", err)
	}
	if req := <-got; req.Op != OpPreStopped || req.Container != "side" || !req.Run.Equal(run) {
		t.Errorf("request = %+v", req)
	}
}

// refusingInfra listens on a socket of its own as an infra of protocol
// version v, which answers the first request with its refusal of an op it
// lacks; it returns the socket and the request it got.
func refusingInfra(t *testing.T, v int) (string, <-chan Request) {
	t.Helper()
	return answeringInfra(t, func(req Request) Response {
		return Response{Version: v, Error: fmt.Sprintf("unsupported op %q (infra protocol version %d)", req.Op, v)}
	})
}

// answeringInfra listens on a socket of its own and answers the first
// request with answer's response; it returns the socket and the request.
func answeringInfra(t *testing.T, answer func(Request) Response) (string, <-chan Request) {
	t.Helper()
	testutil.RequireRoot(t) // the client insists on a root peer
	sock := filepath.Join(t.TempDir(), "infra.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan Request, 1)
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		var req Request
		if readFrame(conn, &req) == nil {
			got <- req
			writeFrame(conn, answer(req))
		}
	}()
	return sock, got
}
