package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/manifests"
)

func newExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain FIELD.PATH",
		Short: "Say whether berth implements a Pod field, refuses it as not supported yet, or ignores it as cluster-only",
		Long: `Say how berth treats a Kubernetes Pod field, from the tables validation
uses: implemented, refused as not supported yet, or accepted with a warning
and ignored because only a cluster acts on it. Lists may be written with or
without [] (spec.containers.livenessProbe, spec.containers[].livenessProbe).
Needs no daemon. Exits 1 for a path that is not a Pod field berth knows.`,
		Example: "  berth explain spec.containers.livenessProbe\n  berth explain spec.nodeSelector",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := manifests.Explain(args[0])
			if errors.Is(err, manifests.ErrUnknownField) {
				return &exitError{code: 1, msg: fmt.Sprintf("%v: check the spelling against the Kubernetes Pod API", err)}
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "FIELD:   %s\n", v.Path)
			fmt.Fprintf(w, "STATUS:  %s\n", v.Support)
			if v.Type != "" {
				fmt.Fprintf(w, "TYPE:    %s\n", v.Type)
			}
			switch v.Support {
			case manifests.Implemented:
				fmt.Fprintln(w, "WHY:     berth acts on it; validation checks its value as Kubernetes does")
			case manifests.Partly:
				fmt.Fprintf(w, "WHY:     %s; a manifest using such a value is refused\n", v.Message)
			case manifests.NotSupported:
				fmt.Fprintf(w, "WHY:     %s; a manifest that sets it is refused rather than run without it\n", v.Message)
			case manifests.ClusterOnly:
				fmt.Fprintf(w, "WHY:     %s; the manifest runs with a warning\n", v.Message)
			case manifests.NotAllowed:
				fmt.Fprintf(w, "WHY:     %s\n", v.Message)
			}
			return nil
		},
	}
}
