package daemon

import (
	"context"

	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/pod"
)

// execOutputMax is how much of an exec probe's output is kept, as the
// kubelet keeps.
const execOutputMax = 10 << 10

// execProber runs exec probes as `berth exec` runs its commands: through
// exec-init, as a child of the daemon, from the sealed binary the infras
// run from (the lean init binary, which has exec-init, or berth itself):
// an exec probe runs every period, and the lean binary starts in a
// fraction of berth's CPU.
type execProber struct {
	exe string
}

func (e execProber) run(ctx context.Context, t pod.ExecTarget, cmd []string) (int, []byte, error) {
	return execin.Output(ctx, e.exe, execin.NewConfig(execin.Target(t), cmd, false, ""), execOutputMax)
}
