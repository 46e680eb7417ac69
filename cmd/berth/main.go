// Command berth is the one binary: the CLI verbs, `berth daemon`, and the
// hidden re-exec entry points of the infra and container-init processes.
//
// It is built twice. The full build (this package without build tags; a
// plain `go build ./cmd/berth`) has every verb and entry point. The lean
// build (tag berthlean, full.go against lean.go) links only the client
// verbs and the exec helper's entry point, and embeds the full build
// (internal/embedbin), which it executes for the daemon and the other
// verbs; hack/build makes the berth users run that way, so that a verb
// like apply or get does not pay, at every start, the package
// initialisation of the daemon's dependencies.
package main

import (
	"fmt"
	"os"
)

func main() {
	// Re-exec entry points are dispatched before any flag parsing or CLI
	// set-up, so that these processes stay small and their arguments cannot
	// be confused with user flags.
	if len(os.Args) > 1 {
		if entry, ok := entryPoints[os.Args[1]]; ok {
			entry(os.Args[2:])
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
