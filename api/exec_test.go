//go:build !berthlean

package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestExecTargetOverTheSocket(t *testing.T) {
	c := serve(t, &fakeBackend{})
	ctx := context.Background()
	if os.Geteuid() != 0 {
		if _, err := c.ExecTarget(ctx, "default", "web", "app"); err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Fatalf("ExecTarget as uid %d: %v, want refused", os.Geteuid(), err)
		}
		return
	}
	got, err := c.ExecTarget(ctx, "default", "web", "app")
	if err != nil || got.Pod != "default/web" || got.Container != "app" || got.PID != 42 {
		t.Fatalf("ExecTarget = %+v, %v", got, err)
	}
	if got, err := c.ExecTarget(ctx, "default", "web", ""); err != nil || got.Container != "" {
		t.Errorf("without container: %+v, %v", got, err)
	}
	_, err = c.ExecTarget(ctx, "default", "gone", "app")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing pod: %v, want ErrNotFound", err)
	}
	_, err = c.ExecTarget(ctx, "default", "web", "stopped")
	if !errors.Is(err, ErrNotRunning) || err.Error() != "container stopped is terminated: container is not running" {
		t.Errorf("stopped container: %v, want ErrNotRunning with the daemon's message", err)
	}
}

func TestExecTargetNeedsPeerCredentials(t *testing.T) {
	// Without a unix connection there is no peer to check: refused.
	h := Handler(&fakeBackend{}, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/pods/default/web/exec-target", nil))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "needs root") {
		t.Errorf("status %d %q, want 403", rec.Code, rec.Body.String())
	}
}

func TestAttachOverTheSocket(t *testing.T) {
	c := serve(t, &fakeBackend{})
	ctx := context.Background()
	if os.Geteuid() != 0 {
		if _, err := c.Attach(ctx, "default", "web", "app", true, false); err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Fatalf("Attach as uid %d: %v, want refused", os.Geteuid(), err)
		}
		return
	}
	conn, err := c.Attach(ctx, "default", "web", "app", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != "HELLO" {
		t.Fatalf("through the session: %q, %v; want HELLO", got, err)
	}
	conn.Close()

	for _, tt := range []struct {
		name, ctr string
		stdin     bool
		is        error
		msg       string
	}{
		{"gone", "app", false, ErrNotFound, "not found"},
		{"web", "stopped", false, ErrNotRunning, "container stopped is terminated"},
		{"web", "quiet", true, ErrAttachRefused, "container quiet takes no input"},
	} {
		_, err := c.Attach(ctx, "default", tt.name, tt.ctr, tt.stdin, false)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("attach %s -c %s: %v, want %v with %q", tt.name, tt.ctr, err, tt.is, tt.msg)
		}
	}
}
