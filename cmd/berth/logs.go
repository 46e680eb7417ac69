package main

import (
	"context"
	"errors"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api"
)

func newLogsCmd(g *globals) *cobra.Command {
	var namespace string
	opts := api.LogOptions{}
	cmd := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print the logs of a container in a pod (like kubectl logs)",
		Example: `  berth logs web
  berth logs web -c sidecar --tail 20 -f
  berth logs web --previous --timestamps`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			err := api.NewClient(g.socket).Logs(ctx, namespace, args[0], opts, cmd.OutOrStdout())
			if errors.Is(err, context.Canceled) {
				// Ctrl-C ends a follow; that is not a failure.
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&namespace, "namespace", "n", "default", "namespace of the pod")
	f.StringVarP(&opts.Container, "container", "c", "", "container to print; may be left out when the pod has one")
	f.BoolVarP(&opts.Follow, "follow", "f", false, "keep streaming, into the container's next runs, until the pod is deleted")
	f.BoolVarP(&opts.Previous, "previous", "p", false, "print the container's previous run")
	f.BoolVar(&opts.Timestamps, "timestamps", false, "prefix each line with its RFC3339Nano time")
	f.IntVar(&opts.Tail, "tail", -1, "print the last N lines (-1: all)")
	f.DurationVar(&opts.Since, "since", 0, "print only lines newer than this, such as 5s, 2m or 3h")
	return cmd
}
