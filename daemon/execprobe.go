package daemon

import (
	"context"
	"fmt"
	"sync"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/internal/sealed"
	"github.com/berth-project/berth/pod"
)

// execOutputMax is how much of an exec probe's output is kept, as the
// kubelet keeps.
const execOutputMax = 10 << 10

// execProber runs exec probes as `berth exec` runs its commands: through
// exec-init, as a child of the daemon, from a sealed copy of the daemon's
// own binary (the lean init binary the infras run has no exec-init). The
// copy is made at the first exec probe and kept for the daemon's life.
type execProber struct {
	fallbackDir string
	once        sync.Once
	bin         *sealed.Binary
	err         error
}

func (e *execProber) run(ctx context.Context, t pod.ExecTarget, cmd []string) (int, []byte, error) {
	e.once.Do(func() { e.bin, e.err = sealed.Seal(e.fallbackDir) })
	if e.err != nil {
		return 0, nil, fmt.Errorf("seal berth binary for exec probes: %w", e.err)
	}
	return execin.Output(ctx, e.bin.Path, execin.NewConfig(api.ExecTarget(t), cmd, false, ""), execOutputMax)
}

// close releases the sealed copy, if one was made.
func (e *execProber) close() {
	e.once.Do(func() {})
	if e.bin != nil {
		e.bin.Close()
	}
}
