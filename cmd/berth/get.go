package main

import (
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
	get := &cobra.Command{Use: "get", Short: "Display pods"}
	var output, namespace string
	var all bool
	pods := &cobra.Command{
		Use:     "pods [NAME]",
		Aliases: []string{"pod", "po"},
		Short:   "List pods (like kubectl get pods)",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := api.NewClient(g.socket)
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
	get.AddCommand(pods)
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
	var obj any = api.PodList{APIVersion: "v1", Kind: "List", Items: pods}
	if single && len(pods) == 1 {
		obj = pods[0]
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
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	cols := []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}
	if allNS {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	if output == "wide" {
		cols = append(cols, "IP", "FILE")
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, p := range pods {
		ready, total := api.ReadyCount(p)
		row := []string{p.Metadata.Name, fmt.Sprintf("%d/%d", ready, total), api.DisplayStatus(p),
			fmt.Sprint(api.Restarts(p)), age(p, now)}
		if allNS {
			row = append([]string{p.Metadata.Namespace}, row...)
		}
		if output == "wide" {
			row = append(row, orNone(p.Status.PodIP), orNone(p.Berth.File))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
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
	start := p.Berth.Created
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
