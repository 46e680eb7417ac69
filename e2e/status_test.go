package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// TestSystemdStatus listens on NOTIFY_SOCKET as systemd does and follows
// the daemon's STATUS= line (what `systemctl status berth` shows) while a
// pod fails to create and then, its manifest fixed, runs: the line counts
// the pod failing with its error, then running, and is sent only when it
// changes, never twice the same in a row.
func TestSystemdStatus(t *testing.T) {
	testutil.RequireRoot(t)
	notify := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", notify)
	d := startDaemon(t)

	var statuses []string
	next := func(want string) {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for a STATUS= with %q: %v; got %q", want, err, statuses)
			}
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				if s, ok := strings.CutPrefix(l, "STATUS="); ok {
					statuses = append(statuses, s)
					if strings.Contains(s, want) {
						return
					}
				}
			}
		}
	}
	next("0 pods running, 0 failing")

	missing := strings.Replace(podYAML("st", "Always", `["/bin/demo", "sleep"]`),
		"image: berth.test/demo:latest", "image: berth.test/missing:latest\n    imagePullPolicy: Never", 1)
	write := func(yaml string) {
		if err := os.WriteFile(filepath.Join(d.manifests, "st.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(missing)
	next("0 pods running, 1 failing; last error: default/st: ErrImageNeverPull")
	// More passes, each failing the same create: nothing new to say.
	for range 3 {
		if err := api.NewClient(d.sock).Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	write(podYAML("st", "Always", `["/bin/demo", "sleep"]`))
	next("1 pod running, 0 failing")
	d.runningPod("st")
	for i := 1; i < len(statuses); i++ {
		if statuses[i] == statuses[i-1] {
			t.Errorf("STATUS=%q sent twice in a row: %q", statuses[i], statuses)
		}
	}
}
