package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// An init stage that never execs nor reports (here a shell that holds the
// sync pipe and sleeps) is killed at the deadline, and Start says so.
func TestStartKillsAStuckInit(t *testing.T) {
	testutil.RequireRoot(t)
	stuck := filepath.Join(t.TempDir(), "stuck-init")
	if err := os.WriteFile(stuck, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pid, err := Start(Config{ID: "stuck"}, StartOptions{Exe: stuck, Timeout: 200 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) || pid != 0 {
		t.Fatalf("Start of a stuck init = %d, %v; want a *TimeoutError", pid, err)
	}
	if !IsCreateError(err) {
		t.Errorf("IsCreateError(%v) = false", err)
	}
}

func TestIsCreateError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&TimeoutError{Timeout: time.Second}, true},
		{&InitError{Step: "resolve user app", Message: "/etc/passwd is not a regular file but a FIFO: fix the image"}, true},
		{&InitError{Step: "find program", Message: "not found"}, false},
		{errors.New("fork: resource temporarily unavailable"), false},
	} {
		if got := IsCreateError(tc.err); got != tc.want {
			t.Errorf("IsCreateError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
