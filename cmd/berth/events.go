package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
			return printEvents(cmd.OutOrStdout(), f.keep(evs), output, all, true, time.Now())
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "events of every namespace")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "after listing, print new events as they happen")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json (one object per event)")
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

// printEvents prints events oldest first as kubectl does (LAST SEEN, TYPE,
// REASON, OBJECT, MESSAGE), or as JSON objects, one per line.
func printEvents(w io.Writer, evs []api.Event, output string, allNS, header bool, now time.Time) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
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
		if err := printEvents(w, evs, output, f.all, header && len(evs) > 0, time.Now()); err != nil {
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
