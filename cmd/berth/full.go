//go:build !berthlean

package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/execin"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/embedbin"
	"github.com/berth-project/berth/internal/reexec"
	"github.com/berth-project/berth/registry"
)

// entryPoints are the hidden re-exec entry points, by their subcommand.
var entryPoints = map[string]func(args []string){
	infra.Subcommand:         infra.Main,
	container.InitSubcommand: container.Main,
	execin.InitSubcommand:    execin.Main,
}

// fullVerbs are the verbs only the full build links.
func fullVerbs(g *globals) []*cobra.Command {
	return []*cobra.Command{newDaemonCmd(g), newTopCmd(g), newImageCmd(g), newVolumeCmd(g)}
}

// nameFromLean names this process as the command it was started as when
// the lean build executed it from a memfd: the kernel names a process
// after the file it executes, here "/proc/self/fd/N", and ps, top, pidof
// and the journal would show "N" for the daemon. A failure leaves that
// name: it is cosmetic.
func nameFromLean() {
	if exe, err := os.Readlink("/proc/self/exe"); err == nil && strings.HasPrefix(exe, "/memfd:"+embedbin.Full) {
		reexec.NameProcess(filepath.Base(os.Args[0]))
	}
}

// registriesConfig loads the registries config the flags name.
func (g *globals) registriesConfig() (*registry.Config, error) {
	return registry.LoadConfig(g.registries, g.registries == defaultRegistries)
}

// embedded says what the daemon runs its pods' infra and container-init
// processes from.
func embedded() string {
	return "init: " + describeEmbedded(embedbin.Size(embedbin.Init), "berth itself")
}
