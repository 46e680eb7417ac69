package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/execin"
)

func TestSplitExecArgs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		dash    int
		pod     string
		command []string
		errText string
	}{
		{"pod and command", []string{"web", "ls", "-l"}, 1, "web", []string{"ls", "-l"}, ""},
		{"no dash", []string{"web", "ls"}, -1, "", nil, `missing "--"`},
		{"no pod", []string{"ls"}, 0, "", nil, "missing pod name"},
		{"two pods", []string{"web", "db", "ls"}, 2, "", nil, `got "web db"`},
		{"no command", []string{"web"}, 1, "", nil, "missing command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod, command, err := splitExecArgs(tc.args, tc.dash)
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %v, want one containing %q", err, tc.errText)
				}
				return
			}
			if err != nil || pod != tc.pod || !slices.Equal(command, tc.command) {
				t.Errorf("got %q %q %v, want %q %q", pod, command, err, tc.pod, tc.command)
			}
		})
	}
}

func TestExecResult(t *testing.T) {
	other := errors.New("start exec-init: boom")
	for _, tc := range []struct {
		name     string
		code     int
		err      error
		wantCode int // 0: no error expected; -1: a plain error (exit 1)
		wantMsg  string
	}{
		{"success", 0, nil, 0, ""},
		{"command status", 7, nil, 7, ""},
		{"killed", 137, nil, 137, ""},
		{"not found", 0, &execin.SetupError{Step: "find program", Message: "nope", NotFound: true}, 127, "exec in ns/p/c: find program: nope"},
		{"setup failure", 0, &execin.SetupError{Step: "join cgroups", Message: "EBUSY"}, 126, "join cgroups: EBUSY"},
		{"other failure", 0, other, -1, "exec in ns/p/c: start exec-init: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := execResult("ns/p/c", tc.code, tc.err)
			var ec exitCoder
			switch {
			case tc.wantCode == 0:
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
			case tc.wantCode < 0:
				if err == nil || asExitCoder(err, &ec) || !errors.Is(err, other) || err.Error() != tc.wantMsg {
					t.Fatalf("error %v, want plain %q", err, tc.wantMsg)
				}
			default:
				if !asExitCoder(err, &ec) || ec.ExitCode() != tc.wantCode || !strings.Contains(ec.Error(), tc.wantMsg) {
					t.Fatalf("error %v, want exit %d with %q", err, tc.wantCode, tc.wantMsg)
				}
			}
		})
	}
}
