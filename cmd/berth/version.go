package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/initbin"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print berth's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rev := ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = " " + s.Value
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "berth %s%s %s %s/%s\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(cmd.OutOrStdout(), "init: %s\n", initDescription(initbin.Size()))
			return nil
		},
	}
}

// initDescription says what pods' infra and container-init processes run:
// the lean binary hack/build embeds (of size bytes), or berth itself.
func initDescription(size int64) string {
	if size == 0 {
		return "berth itself (built without hack/build)"
	}
	return fmt.Sprintf("embedded (%.1f MB)", float64(size)/1e6)
}
