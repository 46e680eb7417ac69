//go:build !berthlean

package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/pod"
	"github.com/berth-project/berth/volumes"
)

// volumeView is what `berth volume inspect` prints: the volume and the pods
// whose records name its claim.
type volumeView struct {
	volumes.ClaimVolume
	UsedBy []string `json:"usedBy"`
}

func newVolumeCmd(g *globals) *cobra.Command {
	vol := &cobra.Command{
		Use:   volumeVerb.use,
		Short: volumeVerb.short,
		Long: `A persistentVolumeClaim volume is a directory of the state directory,
<state-dir>/volumes/<namespace>/<claim>, made on a pod's first use of the
claim and kept when the pod goes. A volume is in use while a pod's record
(<state-dir>/pods/*/pod.json) names its claim: from before its volumes are
prepared until its teardown is done.`,
	}
	store := func() volumes.ClaimStore { return volumes.ClaimStore{Dir: volumes.ClaimsDir(g.stateDir)} }
	var namespace string
	var all bool

	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the volumes of a namespace (-A: of every namespace)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns := namespace
			if all {
				ns = ""
			}
			vols, err := store().List(ns)
			if err != nil {
				return err
			}
			users, err := pod.ClaimsUsers(g.stateDir)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NAMESPACE\tCLAIM\tUSED BY\tCREATED\tPATH")
			for _, v := range vols {
				created := "-"
				if !v.Created.IsZero() {
					created = v.Created.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", v.Claim.Namespace, v.Claim.Name, len(users[v.Claim]), created, v.Path)
			}
			return tw.Flush()
		},
	}
	ls.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the volumes of every namespace")

	inspect := &cobra.Command{
		Use:   "inspect CLAIM",
		Short: "Print a volume and the pods using it, as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k := volumes.ClaimKey{Namespace: namespace, Name: args[0]}
			v, err := store().Inspect(k)
			if err != nil {
				return err
			}
			users, err := pod.ClaimUsers(g.stateDir, k)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(volumeView{ClaimVolume: v, UsedBy: append([]string{}, users...)})
		},
	}

	rm := &cobra.Command{
		Use:   "rm CLAIM...",
		Short: "Remove volumes and their data; a volume a pod uses is refused",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range args {
				k := volumes.ClaimKey{Namespace: namespace, Name: name}
				if err := store().Remove(k, func() ([]string, error) { return pod.ClaimUsers(g.stateDir, k) }); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", k)
			}
			return nil
		},
	}
	vol.PersistentFlags().StringVarP(&namespace, "namespace", "n", "default", "namespace of the claims")
	vol.AddCommand(ls, inspect, rm)
	return vol
}
