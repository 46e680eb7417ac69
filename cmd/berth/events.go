package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api"
)

func newGetEventsCmd(g *globals) *cobra.Command {
	var namespace, output string
	var all, watch bool
	cmd := &cobra.Command{
		Use:     "events",
		Aliases: []string{"event", "ev"},
		Short:   "List recent events (like kubectl get events)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("unknown output format %q: use json", output)
			}
			c := api.NewClient(g.socket)
			f := eventFilter{namespace: namespace, all: all}
			if watch {
				return watchEvents(cmd.Context(), cmd.OutOrStdout(), c, f, output, watchInterval)
			}
			evs, err := c.Events(cmd.Context(), time.Time{}, "")
			if err != nil {
				return err
			}
			evs = f.keep(evs)
			if output == "json" {
				list, err := kubeEvents(cmd.Context(), c, evs)
				if err != nil {
					return err
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "    ")
				return enc.Encode(list)
			}
			return printEvents(cmd.OutOrStdout(), evs, all, true, time.Now())
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "events of every namespace")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "after listing, print new events as they happen")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json (a v1 EventList; with -w one v1 Event a line)")
	return cmd
}

// eventFilter keeps the events of one namespace (or all). Events about a
// manifest file (FailedValidation) belong to no namespace and are kept
// always: the file may be what keeps a pod of this namespace from running.
type eventFilter struct {
	namespace string
	all       bool
}

func (f eventFilter) keep(evs []api.Event) []api.Event {
	var out []api.Event
	for _, e := range evs {
		ns, ok := eventNamespace(e)
		if f.all || !ok || ns == f.namespace {
			out = append(out, e)
		}
	}
	return out
}

// eventNamespace is the namespace of a pod's event (Object pod/NS/NAME).
func eventNamespace(e api.Event) (string, bool) {
	rest, ok := strings.CutPrefix(e.Object, "pod/")
	if !ok {
		return "", false
	}
	ns, _, ok := strings.Cut(rest, "/")
	return ns, ok
}

// kubeEvents converts events to a Kubernetes v1 EventList, with the
// involved pods' UIDs from the daemon.
func kubeEvents(ctx context.Context, c *api.Client, evs []api.Event) (api.EventList, error) {
	if len(evs) == 0 {
		return api.KubeEvents(nil, nil, ""), nil
	}
	pods, err := c.Pods(ctx)
	if err != nil {
		return api.EventList{}, err
	}
	host, _ := os.Hostname()
	return api.KubeEvents(evs, pods, host), nil
}

// printEvents prints events oldest first as kubectl does (LAST SEEN, TYPE,
// REASON, OBJECT, MESSAGE).
func printEvents(w io.Writer, evs []api.Event, allNS, header bool, now time.Time) error {
	if len(evs) == 0 {
		if header {
			fmt.Fprintln(w, "No events found.")
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if header {
		cols := "LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE"
		if allNS {
			cols = "NAMESPACE\t" + cols
		}
		fmt.Fprintln(tw, cols)
	}
	for _, e := range evs {
		row := []string{eventAge(e, now), e.Type, e.Reason, eventObject(e), e.Message}
		if allNS {
			ns, _ := eventNamespace(e)
			row = append([]string{orNone(ns)}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// eventObject names what the event is about: pod/NAME or
// pod/NAME/container, or the manifest file.
func eventObject(e api.Event) string {
	obj := e.Object
	if rest, ok := strings.CutPrefix(obj, "pod/"); ok {
		if _, name, ok := strings.Cut(rest, "/"); ok {
			obj = "pod/" + name
		}
	}
	if e.Container != "" {
		obj += "/" + e.Container
	}
	return obj
}

// watchEvents prints the events, then every event seen later (a repeat is
// printed again with its new count), until ctx ends.
func watchEvents(ctx context.Context, w io.Writer, c *api.Client, f eventFilter, output string, interval time.Duration) error {
	var since time.Time
	header := true
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		evs, err := c.Events(ctx, since, "")
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range evs {
			if e.Time.After(since) {
				since = e.Time
			}
		}
		evs = f.keep(evs)
		if output == "json" {
			err = printEventLines(ctx, w, c, evs)
		} else {
			err = printEvents(w, evs, f.all, header && len(evs) > 0, time.Now())
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		header = header && len(evs) == 0
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// printEventLines prints events as kubectl -w -o json does: one v1 Event
// object a line.
func printEventLines(ctx context.Context, w io.Writer, c *api.Client, evs []api.Event) error {
	list, err := kubeEvents(ctx, c, evs)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, e := range list.Items {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}
