//go:build !berthlean

package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/metrics"
)

// topWindow is how far apart `berth top` takes its two scrapes: CPU use is
// the CPU time spent in between.
const topWindow = time.Second

func newTopCmd(g *globals) *cobra.Command {
	top := &cobra.Command{Use: topVerb.use, Short: topVerb.short}
	var namespace, sortBy string
	var all, containers bool
	pods := &cobra.Command{
		Use:     "pods [NAME]",
		Aliases: []string{"pod", "po"},
		Short:   "CPU (millicores, over one second) and memory working set (MiB) of pods",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := api.NewClient(g.socket)
			before, took, err := sample(cmd.Context(), c)
			if err != nil {
				return err
			}
			select {
			case <-time.After(topWindow):
			case <-cmd.Context().Done():
				return cmd.Context().Err()
			}
			after, took2, err := sample(cmd.Context(), c)
			if err != nil {
				return err
			}
			rows := filterTop(metrics.Top(before, after, took2.Sub(took), containers), namespace, all, args)
			if len(rows) == 0 {
				if len(args) == 1 {
					return fmt.Errorf("pod %q not found in namespace %q, or not running", args[0], namespace)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "No resources found in %s namespace.\n", namespace)
				return nil
			}
			if err := metrics.SortTop(rows, sortBy); err != nil {
				return err
			}
			return metrics.PrintTop(cmd.OutOrStdout(), rows, all, containers)
		},
	}
	pods.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace")
	pods.Flags().BoolVarP(&all, "all-namespaces", "A", false, "pods of every namespace")
	pods.Flags().BoolVar(&containers, "containers", false, "one line per container")
	pods.Flags().StringVar(&sortBy, "sort-by", "", "sort by cpu or memory, highest first")
	top.AddCommand(pods)
	return top
}

// sample scrapes the daemon's metrics once and notes when the scrape was
// answered.
func sample(ctx context.Context, c *api.Client) (map[metrics.ContainerKey]metrics.Sample, time.Time, error) {
	var b bytes.Buffer
	if err := c.Metrics(ctx, &b); err != nil {
		return nil, time.Time{}, err
	}
	at := time.Now()
	s, err := metrics.ParseSamples(&b)
	return s, at, err
}

// filterTop keeps the rows of namespace (all: every one) and of the named
// pod when one is given.
func filterTop(rows []metrics.TopRow, namespace string, all bool, names []string) []metrics.TopRow {
	var out []metrics.TopRow
	for _, r := range rows {
		if (all || r.Namespace == namespace) && (len(names) == 0 || r.Pod == names[0]) {
			out = append(out, r)
		}
	}
	return out
}
