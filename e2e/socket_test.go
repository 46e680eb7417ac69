package e2e

import (
	"os"
	"syscall"
	"testing"
)

// TestStopRemovesSocket stops the daemon with SIGTERM several times: each
// time its API socket must be gone once it has exited. The daemon used to
// return before its API server had closed the listener, and the process
// ended with the socket file still there (found by hack/chaos).
func TestStopRemovesSocket(t *testing.T) {
	d := startDaemon(t)
	for i := range 10 {
		if i > 0 {
			d.start()
		}
		d.stop(syscall.SIGTERM)
		if _, err := os.Lstat(d.sock); err == nil {
			t.Fatalf("stop %d: the socket %s is still there after the daemon exited", i+1, d.sock)
		}
	}
}
