package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/manifests"
)

// fakeExec answers as its fields say; with block, it waits for ctx.
type fakeExec struct {
	code  int
	out   string
	err   error
	block bool
	got   []string
}

func (f *fakeExec) Exec(ctx context.Context, cmd []string) (int, []byte, error) {
	f.got = cmd
	if f.block {
		<-ctx.Done()
		return -1, []byte(f.out), ctx.Err()
	}
	return f.code, []byte(f.out), f.err
}

func TestExecChecker(t *testing.T) {
	tests := []struct {
		name   string
		exec   *fakeExec
		want   Result
		output string
	}{
		{"exit 0", &fakeExec{out: "fine\n"}, Success, "fine\n"},
		{"exit 1", &fakeExec{code: 1, out: "no db\n"}, Failure, "no db\n"},
		{"output capped", &fakeExec{code: 2, out: strings.Repeat("y", maxBody+5)}, Failure, strings.Repeat("y", maxBody)},
		{"timeout", &fakeExec{block: true}, Failure, `command "cat /tmp/healthy" timed out`},
		{"cannot run", &fakeExec{err: errors.New("container is not running")}, Unknown, `exec "cat /tmp/healthy": container is not running`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := manifests.ProbeHandler{Exec: &manifests.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}
			c, err := NewChecker(h, Target{Exec: tt.exec})
			if err != nil {
				t.Fatal(err)
			}
			got, out := c.Check(context.Background(), 50*time.Millisecond)
			if got != tt.want || out != tt.output || strings.Join(tt.exec.got, " ") != "cat /tmp/healthy" {
				t.Errorf("got %v %.40q (ran %q), want %v %.40q", got, out, tt.exec.got, tt.want, tt.output)
			}
		})
	}
}

func TestNewCheckerRefuses(t *testing.T) {
	tests := []struct {
		name string
		h    manifests.ProbeHandler
		t    Target
		want string
	}{
		{"exec without an Execer", manifests.ProbeHandler{Exec: &manifests.ExecAction{Command: []string{"true"}}}, Target{}, "exec probes need an Execer"},
		{"http without a dialer", manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{}}, Target{}, "probe target has no dialer"},
		{"no action", manifests.ProbeHandler{}, Target{}, "probe has no action: set one of exec, httpGet, tcpSocket, grpc"},
	}
	for _, tt := range tests {
		if _, err := NewChecker(tt.h, tt.t); err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}
