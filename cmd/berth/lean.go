//go:build berthlean

package main

import (
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/internal/embedbin"
)

// The client verbs spend their time waiting on the daemon's socket: with one
// P the runtime keeps no second thread spinning for work, which on a small
// host took CPU from the very pods an apply waits for (about 0.4 ms of the
// CLI's 4.7 ms of CPU per apply here). The daemon and the other verbs of
// the full build are executed, and start with the host's count.
func init() { runtime.GOMAXPROCS(1) }

// entryPoints are the hidden re-exec entry points the lean build serves:
// `berth exec` runs its helper from the CLI's own binary.
var entryPoints = map[string]func(args []string){
	execin.InitSubcommand: execin.Main,
}

// fullVerbs lists the verbs only the full build links; each executes the
// embedded full build with this process's own arguments, flags and help
// included, which parses them again (the same flags, the same words).
func fullVerbs(*globals) []*cobra.Command {
	var out []*cobra.Command
	for _, v := range []verb{daemonVerb, topVerb, imageVerb, volumeVerb} {
		out = append(out, &cobra.Command{
			Use:                v.use,
			Short:              v.short,
			DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error {
				return embedbin.Exec(embedbin.Full, os.Args, os.Environ(), fullFallbackDir)
			},
		})
	}
	return out
}

// fullFallbackDir holds the copy of the full build where the kernel does
// not execute memfds (internal/sealed).
var fullFallbackDir = filepath.Join(defaultRunDir, "bin")

// embedded says what the lean build runs its daemon and other verbs from.
func embedded() string {
	return "full: " + describeEmbedded(embedbin.Size(embedbin.Full), "nothing: only the client verbs run")
}
