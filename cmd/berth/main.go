// Command berth is the one binary: the CLI verbs, `berth daemon`, and the
// hidden re-exec entry points of the infra and container-init processes.
package main

import (
	"fmt"
	"os"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/infra"
)

func main() {
	// Re-exec entry points are dispatched before any flag parsing or CLI
	// set-up, so that these processes stay small and their arguments cannot
	// be confused with user flags.
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
	if err := newRootCmd().Execute(); err != nil {
		var ec exitCoder
		if asExitCoder(err, &ec) {
			if msg := ec.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "berth:", msg)
			}
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(1)
	}
}
