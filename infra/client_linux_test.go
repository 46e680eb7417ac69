package infra

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// TestEnvFromAnOldInfra: an infra of protocol version 1 (pods started
// before an upgrade keep theirs) answers the env op with "unsupported op",
// which the client reports as ErrUnsupported so the caller can fall back.
func TestEnvFromAnOldInfra(t *testing.T) {
	testutil.RequireRoot(t) // the client insists on a root peer
	sock := filepath.Join(t.TempDir(), "infra.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		var req Request
		if readFrame(conn, &req) == nil {
			writeFrame(conn, Response{Version: 1, Error: `unsupported op "` + req.Op + `" (infra protocol version 1)`})
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := NewClient(sock).Env(ctx, "app"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Env from a version 1 infra = %v, want ErrUnsupported", err)
	}
}
