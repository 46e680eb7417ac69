package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
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
			fmt.Fprintln(cmd.OutOrStdout(), embedded())
			return nil
		},
	}
}

// describeEmbedded says what an embedded binary is: embedded, of size
// bytes, or, when absent, what runs instead.
func describeEmbedded(size int64, instead string) string {
	if size == 0 {
		return instead + " (built without hack/build)"
	}
	return fmt.Sprintf("embedded (%.1f MB)", float64(size)/1e6)
}
