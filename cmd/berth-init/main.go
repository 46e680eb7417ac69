// Command berth-init is berth's lean re-exec binary: only the infra (the
// per-pod pause and supervisor), the container-init stage and exec-init
// (which the daemon's exec probes run, every period), without the
// CLI, YAML, HTTP or nftables code of cmd/berth. It is never installed on its
// own: hack/build embeds it into berth's full build (internal/embedbin), and
// the daemon runs it from a sealed memfd. Linking only these entry points makes its
// start about twice as fast as berth's and halves the infra's private memory.
//
// The infra starts its containers' init stage by re-executing
// /proc/self/exe, so once the infra runs from this binary, so do they.
package main

import (
	"fmt"
	"os"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/infra"
)

func main() {
	// The same dispatch as cmd/berth's re-exec entry points, on os.Args[1]
	// before any flag parsing.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case infra.Subcommand:
			infra.Main(os.Args[2:])
			return
		case container.InitSubcommand:
			container.Main(os.Args[2:])
			return
		case execin.InitSubcommand:
			execin.Main(os.Args[2:])
			return
		}
	}
	fmt.Fprintln(os.Stderr, "berth-init is berth's internal helper for pod processes: it is embedded in berth and run by its daemon, not by hand")
	os.Exit(2)
}
