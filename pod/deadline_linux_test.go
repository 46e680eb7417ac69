package pod

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/podid"
	"github.com/berth-project/berth/internal/procstat"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

// silentInfra listens on socket and accepts connections without ever
// answering, as an infra whose loop is stuck does.
func silentInfra(t *testing.T, socket string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(socket), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
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
}

// A live infra that does not answer neither holds the daemon's recovery
// nor its status calls: its pod is kept (it may run) and shows as
// unreachable.
func TestSilentInfraHoldsNothing(t *testing.T) {
	testutil.RequireRoot(t) // the client insists on a root peer
	dir := t.TempDir()
	m := NewManager(Config{StateDir: filepath.Join(dir, "state"), RunDir: filepath.Join(dir, "run"), LogDir: filepath.Join(dir, "log"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	p := &manifests.Pod{}
	p.Namespace, p.Name = "default", "stuck"
	start, err := procstat.StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// The test process stands in for the live infra.
	rec := &record{UID: "u1", Pod: p, InfraPID: os.Getpid(), InfraStart: start}
	l := m.layout(p, rec.UID)
	silentInfra(t, l.Socket())

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if !m.adopt(ctx, rec, l) {
		t.Fatal("a live infra that did not answer in time was not adopted")
	}
	m.pods[podid.ID(p.Namespace, p.Name)] = &entry{rec: rec, layout: l}
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	pods := m.Pods(ctx)
	if len(pods) != 1 || pods[0].Phase != kube.PodUnknown {
		t.Fatalf("status of a pod whose infra is silent: %+v", pods)
	}

	// A dead infra's pod is not adopted.
	gone := &record{UID: "u2", Pod: p, InfraPID: os.Getpid(), InfraStart: start + 1}
	if m.adopt(context.Background(), gone, m.layout(p, gone.UID)) {
		t.Error("a pod whose infra is gone was adopted")
	}
}
