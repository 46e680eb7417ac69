package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/berth-project/berth/api"
)

func newGetCmd(g *globals) *cobra.Command {
	get := &cobra.Command{Use: "get", Short: "Display pods and events"}
	var output, namespace string
	var all, watch bool
	pods := &cobra.Command{
		Use:     "pods [NAME]",
		Aliases: []string{"pod", "po"},
		Short:   "List pods (like kubectl get pods)",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := api.NewClient(g.socket)
			if watch {
				return watchPods(cmd.Context(), cmd.OutOrStdout(), c, podWatch{
					namespace: namespace, all: all, names: args, output: output, interval: watchInterval,
				})
			}
			list, err := c.Pods(cmd.Context())
			if err != nil {
				return err
			}
			list = filterPods(list, namespace, all, args)
			if len(args) == 1 && len(list) == 0 {
				return fmt.Errorf("pod %q not found in namespace %q", args[0], namespace)
			}
			return printPods(cmd.OutOrStdout(), list, output, len(args) == 1, all, time.Now())
		},
	}
	pods.Flags().StringVarP(&output, "output", "o", "", "output format: wide, json or yaml")
	pods.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace")
	pods.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list pods of every namespace")
	pods.Flags().BoolVarP(&watch, "watch", "w", false, "after listing, print each pod again when it changes")
	get.AddCommand(pods, newGetEventsCmd(g))
	return get
}

func filterPods(list []api.Pod, ns string, all bool, names []string) []api.Pod {
	var out []api.Pod
	for _, p := range list {
		if !all && p.Metadata.Namespace != ns {
			continue
		}
		if len(names) == 1 && p.Metadata.Name != names[0] {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Metadata.Namespace != out[j].Metadata.Namespace {
			return out[i].Metadata.Namespace < out[j].Metadata.Namespace
		}
		return out[i].Metadata.Name < out[j].Metadata.Name
	})
	return out
}

// printPods renders pods as kubectl does: a table, or a PodList (a Pod when
// one was named) in JSON or YAML.
func printPods(w io.Writer, pods []api.Pod, output string, single, allNS bool, now time.Time) error {
	kube := make([]api.Pod, len(pods))
	for i, p := range pods {
		kube[i] = p.WithKubeTimes()
	}
	var obj any = api.PodList{APIVersion: "v1", Kind: "List", Items: kube}
	if single && len(pods) == 1 {
		obj = kube[0]
	}
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "    ")
		return enc.Encode(obj)
	case "yaml":
		return printYAML(w, obj)
	case "", "wide":
	default:
		return fmt.Errorf("unknown output format %q: use wide, json or yaml", output)
	}
	if len(pods) == 0 {
		fmt.Fprintln(w, "No resources found.")
		return nil
	}
	return printPodRows(w, pods, output, allNS, true, now)
}

// printPodRows prints the table rows of pods, after the header if asked.
func printPodRows(w io.Writer, pods []api.Pod, output string, allNS, header bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	if header {
		cols := []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}
		if allNS {
			cols = append([]string{"NAMESPACE"}, cols...)
		}
		if output == "wide" {
			cols = append(cols, "IP", "FILE")
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	for _, p := range pods {
		fmt.Fprintln(tw, strings.Join(podRow(p, output, allNS, now), "\t"))
	}
	return tw.Flush()
}

// podRow is one pod's table row.
func podRow(p api.Pod, output string, allNS bool, now time.Time) []string {
	ready, total := api.ReadyCount(p)
	row := []string{p.Metadata.Name, fmt.Sprintf("%d/%d", ready, total), api.DisplayStatus(p),
		fmt.Sprint(api.Restarts(p)), age(p, now)}
	if allNS {
		row = append([]string{p.Metadata.Namespace}, row...)
	}
	if output == "wide" {
		row = append(row, orNone(p.Status.PodIP), orNone(p.File()))
	}
	return row
}

// printYAML prints v as YAML with the same field names as its JSON.
func printYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	return enc.Encode(generic)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func age(p api.Pod, now time.Time) string {
	start := p.Metadata.CreationTimestamp
	if p.Status.StartTime != nil {
		start = *p.Status.StartTime
	}
	if start.IsZero() {
		return "<unknown>"
	}
	return humanDuration(now.Sub(start))
}

// humanDuration formats like kubectl's AGE column.
func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 0:
		return "0s"
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", s/60)
	case d < 8*time.Hour:
		return fmt.Sprintf("%dh%dm", s/3600, (s%3600)/60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", s/3600)
	default:
		return fmt.Sprintf("%dd", s/86400)
	}
}

// watchInterval is how often `get -w` re-reads the daemon's state; only
// the watching CLI wakes up, never the daemon or the pods.
const watchInterval = time.Second

// podWatch is what `berth get pods -w` watches and how it prints.
type podWatch struct {
	namespace string
	all       bool
	names     []string
	output    string
	interval  time.Duration
}

// watchPods prints the pods as `get pods` does, then, like kubectl's -w,
// each pod again whenever what the table (or -o json|yaml) shows of it
// changes, until ctx ends.
func watchPods(ctx context.Context, w io.Writer, c *api.Client, pw podWatch) error {
	var seen map[string]string
	header := true
	t := time.NewTicker(pw.interval)
	defer t.Stop()
	for {
		list, err := c.Pods(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		list = filterPods(list, pw.namespace, pw.all, pw.names)
		var changed []api.Pod
		changed, seen = podChanges(seen, list, func(p api.Pod) string { return podSignature(p, pw.output) })
		if err := printWatched(w, changed, pw, header); err != nil {
			return err
		}
		header = header && len(changed) == 0
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// printWatched prints the pods that changed: table rows (after the header
// when asked), or one JSON or YAML object per pod.
func printWatched(w io.Writer, pods []api.Pod, pw podWatch, header bool) error {
	switch pw.output {
	case "json", "yaml":
		for _, p := range pods {
			if err := printPods(w, []api.Pod{p}, pw.output, true, pw.all, time.Now()); err != nil {
				return err
			}
		}
		return nil
	case "", "wide":
		if len(pods) == 0 {
			return nil
		}
		return printPodRows(w, pods, pw.output, pw.all, header, time.Now())
	}
	return fmt.Errorf("unknown output format %q: use wide, json or yaml", pw.output)
}

// podChanges returns the pods whose signature differs from the one in
// prev (all of them when prev is nil) and the signatures to compare the
// next list with.
func podChanges(prev map[string]string, pods []api.Pod, sig func(api.Pod) string) ([]api.Pod, map[string]string) {
	next := make(map[string]string, len(pods))
	var changed []api.Pod
	for _, p := range pods {
		k := p.Metadata.Namespace + "/" + p.Metadata.Name
		s := sig(p)
		next[k] = s
		if old, ok := prev[k]; !ok || old != s {
			changed = append(changed, p)
		}
	}
	return changed, next
}

// podSignature is what a watch compares: the table row without its AGE,
// or the whole object for -o json|yaml.
func podSignature(p api.Pod, output string) string {
	if output == "json" || output == "yaml" {
		b, _ := json.Marshal(p)
		return string(b)
	}
	row := podRow(p, output, true, time.Time{})
	return p.Metadata.UID + "\x00" + strings.Join(append(row[:5:5], row[6:]...), "\x00")
}
