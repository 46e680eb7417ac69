package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Execer runs a command in a container, as `berth exec` does, and returns
// its exit code and combined output. err is for a command that could not be
// run, or did not finish (ctx done): not for a non-zero exit.
type Execer interface {
	Exec(ctx context.Context, cmd []string) (exitCode int, output []byte, err error)
}

type execChecker struct {
	cmd  []string
	exec Execer
}

// Check runs the command: exit 0 is a success, another exit a failure
// with the output (its first 10 KiB, as the kubelet keeps), a command that
// outlives the timeout a failure, one that cannot be run an error.
func (c *execChecker) Check(ctx context.Context, timeout time.Duration) (Result, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, out, err := c.exec.Exec(ctx, c.cmd)
	if len(out) > maxBody {
		out = out[:maxBody]
	}
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Failure, fmt.Sprintf("command %q timed out", strings.Join(c.cmd, " "))
	case err != nil:
		return Unknown, fmt.Sprintf("exec %q: %v", strings.Join(c.cmd, " "), err)
	case code != 0:
		return Failure, string(out)
	}
	return Success, string(out)
}
