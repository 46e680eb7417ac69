package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/seccompload"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/seccomp"
)

// blockedCalls are the lines `demo syscalls` prints under Docker's
// default profile.
var blockedCalls = []string{
	"keyctl: EPERM", "io_uring_setup: EPERM", "socket(AF_VSOCK): EPERM",
	"unshare(CLONE_NEWUSER): EPERM", "bpf: EPERM", "perf_event_open: EPERM",
}

// The filter is loaded before the credentials change without
// no_new_privs and right before execve with it; either way the program
// runs under it and every step of the init after the load was allowed.
func TestSeccompRuntimeDefault(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	filter, err := seccomp.NewCompiler(t.TempDir()).Filter(seccomp.Profile{Type: seccomp.RuntimeDefault}, DefaultCapabilities())
	if err != nil {
		t.Fatal(err)
	}
	// The daemon gives a pod's containers the program as a file.
	file := filepath.Join(t.TempDir(), "filter.bpf")
	if err := os.WriteFile(file, filter.Program, 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := &seccompload.Filter{File: file, Flags: filter.Flags}
	for _, tc := range []struct {
		name   string
		user   string
		nnp    bool
		filter *seccompload.Filter
	}{
		{"root", "", false, filter},
		{"root, no_new_privs", "", true, filter},
		{"uid 1000", "1000", false, filter},
		{"uid 1000, no_new_privs", "1000", true, filter},
		{"root, from a file", "", false, fromFile},
		{"uid 1000, no_new_privs, from a file", "1000", true, fromFile},
	} {
		cfg := r.config("syscalls")
		cfg.User, cfg.NoNewPrivileges, cfg.Seccomp = tc.user, tc.nnp, tc.filter
		out := mustRun(t, cfg)
		if mode := statusField(out, "Seccomp"); mode != "2" {
			t.Errorf("%s: Seccomp: %q, want 2\n%s", tc.name, mode, out)
		}
		for _, want := range blockedCalls {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q in\n%s", tc.name, want, out)
			}
		}
	}
}

// A filter file the init stage cannot read fails the start: the program
// never runs without its filter.
func TestSeccompFileMissing(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	cfg := r.config("syscalls")
	cfg.Seccomp = &seccompload.Filter{File: filepath.Join(t.TempDir(), "absent.bpf")}
	_, err := Start(cfg, StartOptions{})
	var ie *InitError
	if !errors.As(err, &ie) || ie.Step != "read seccomp filter" {
		t.Fatalf("start: %v, want the init stage's failure to read the filter", err)
	}
}

// Without a filter the same calls reach the kernel, which answers them
// with its own results (the demo's arguments make most fail, but not with
// EPERM).
func TestSeccompUnconfined(t *testing.T) {
	testutil.RequireRoot(t)
	r := newRootfs(t)
	out := mustRun(t, r.config("syscalls"))
	if mode := statusField(out, "Seccomp"); mode != "0" {
		t.Errorf("Seccomp: %q, want 0\n%s", mode, out)
	}
	for _, want := range []string{"keyctl: ok", "unshare(CLONE_NEWUSER): EINVAL", "perf_event_open: E2BIG"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
