package main

import (
	"fmt"
	"io"
	"maps"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifests"
)

func newDescribeCmd(g *globals) *cobra.Command {
	describe := &cobra.Command{Use: "describe", Short: "Show details of a pod"}
	var namespace string
	pod := &cobra.Command{
		Use:     "pod NAME",
		Aliases: []string{"pods", "po"},
		Short:   "Show a pod's file, containers, state, limits, volumes and recent events (like kubectl describe pod)",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return podNames(cmd, g.socket, namespace), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c := api.NewClient(g.socket)
			p, err := c.Pod(cmd.Context(), namespace, args[0])
			if err != nil {
				return fmt.Errorf("describe pod %s/%s: %w", namespace, args[0], err)
			}
			events, err := c.Events(cmd.Context(), time.Time{}, "")
			if err != nil {
				return fmt.Errorf("events of pod %s/%s: %w", namespace, args[0], err)
			}
			return describePod(cmd.OutOrStdout(), p, eventsOf(p, events), time.Now())
		},
	}
	pod.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace")
	describe.AddCommand(pod)
	return describe
}

// podNames lists the pods of namespace for shell completion; without a
// daemon there is nothing to offer.
func podNames(cmd *cobra.Command, socket, namespace string) []string {
	pods, err := api.NewClient(socket).Pods(cmd.Context())
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range filterPods(pods, namespace, false, nil) {
		out = append(out, p.Metadata.Name)
	}
	return out
}

// eventsOf keeps the events about pod p: its own, and those about its
// manifest file (FailedValidation).
func eventsOf(p api.Pod, events []api.Event) []api.Event {
	self := api.PodObject(p.Metadata.Namespace, p.Metadata.Name)
	var out []api.Event
	for _, e := range events {
		if e.Object == self || (p.File() != "" && e.Object == p.File()) {
			out = append(out, e)
		}
	}
	return out
}

// describer writes kubectl's describe layout: "Key:  value" lines whose
// values line up, indented by nesting level.
type describer struct {
	tw *tabwriter.Writer
}

func (d describer) line(level int, key string, value any) {
	fmt.Fprintf(d.tw, "%s%s:\t%v\n", strings.Repeat("  ", level), key, value)
}

// head writes a key with nothing after it; the lines that follow are its
// contents.
func (d describer) head(level int, key string) {
	fmt.Fprintf(d.tw, "%s%s:\n", strings.Repeat("  ", level), key)
}

func (d describer) text(level int, s string) {
	fmt.Fprintf(d.tw, "%s%s\n", strings.Repeat("  ", level), s)
}

// describePod prints p as `kubectl describe pod` does, with berth's file and
// infra added, and events (oldest first) at the end.
func describePod(w io.Writer, p api.Pod, events []api.Event, now time.Time) error {
	d := describer{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	st := p.Status
	d.line(0, "Name", p.Metadata.Name)
	d.line(0, "Namespace", p.Metadata.Namespace)
	d.line(0, "UID", orNone(p.Metadata.UID))
	if st.StartTime != nil {
		d.line(0, "Start Time", st.StartTime.Local().Format(time.RFC1123Z))
	} else {
		d.line(0, "Start Time", "<unset>")
	}
	describeMap(d, "Labels", p.Metadata.Labels)
	describeMap(d, "Annotations", userAnnotations(p.Metadata.Annotations))
	d.line(0, "Status", api.DisplayStatus(p))
	if st.Reason != "" {
		d.line(0, "Reason", st.Reason)
	}
	if st.Message != "" {
		d.line(0, "Message", st.Message)
	}
	d.line(0, "IP", orNone(st.PodIP))
	d.line(0, "File", orNone(p.File()))
	if pid := p.InfraPID(); pid != 0 {
		d.line(0, "Infra PID", pid)
	}
	if problems := p.ManifestProblems(); len(problems) > 0 {
		d.head(0, "Problems")
		for _, pr := range problems {
			d.text(1, pr)
		}
	}
	if len(p.Spec.InitContainers) > 0 {
		d.head(0, "Init Containers")
		describeContainers(d, p.Spec.InitContainers, st.InitContainerStatuses)
	}
	d.head(0, "Containers")
	describeContainers(d, p.Spec.Containers, st.ContainerStatuses)
	describeConditions(d, p)
	describeVolumes(d, p.Spec.Volumes)
	if err := d.tw.Flush(); err != nil {
		return err
	}
	return describeEvents(w, events, now)
}

// userAnnotations are the pod's annotations but the two berth sets, which
// are shown on lines of their own (File, Infra PID).
func userAnnotations(m map[string]string) map[string]string {
	out := maps.Clone(m)
	delete(out, api.AnnotationFile)
	delete(out, api.AnnotationInfraPID)
	return out
}

func describeMap(d describer, key string, m map[string]string) {
	if len(m) == 0 {
		d.line(0, key, "<none>")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		name := key + ":"
		if i > 0 {
			name = ""
		}
		fmt.Fprintf(d.tw, "%s\t%s=%s\n", name, k, m[k])
	}
}

func describeContainers(d describer, spec []manifests.Container, statuses []api.ContainerStatus) {
	byName := map[string]api.ContainerStatus{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	for _, c := range spec {
		s := byName[c.Name]
		d.head(1, c.Name)
		if s.ContainerID != "" {
			d.line(2, "Container ID", s.ContainerID)
		}
		d.line(2, "Image", c.Image)
		d.line(2, "Image ID", orNone(s.ImageID))
		describePorts(d, c.Ports)
		describeList(d, "Command", c.Command)
		describeList(d, "Args", c.Args)
		describeState(d, "State", s.State, "Waiting")
		describeState(d, "Last State", s.LastState, "")
		d.line(2, "Ready", titleBool(s.Ready))
		d.line(2, "Restart Count", s.RestartCount)
		describeQuantities(d, "Limits", c.Resources.Limits)
		describeQuantities(d, "Requests", c.Resources.Requests)
		describeEnv(d, c)
		describeMounts(d, c.VolumeMounts)
	}
}

func describePorts(d describer, ports []manifests.ContainerPort) {
	if len(ports) == 0 {
		return
	}
	var cp, hp []string
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = "TCP"
		}
		cp = append(cp, fmt.Sprintf("%d/%s", p.ContainerPort, proto))
		if p.HostPort != 0 {
			hp = append(hp, fmt.Sprintf("%d/%s", p.HostPort, proto))
		}
	}
	d.line(2, "Port", strings.Join(cp, ", "))
	if len(hp) > 0 {
		d.line(2, "Host Port", strings.Join(hp, ", "))
	}
}

func describeList(d describer, key string, items []string) {
	if len(items) == 0 {
		return
	}
	d.head(2, key)
	for _, it := range items {
		d.text(3, it)
	}
}

// describeState prints one container state with its reason, exit code and
// times; empty (no member set) prints empty, or nothing when empty is "".
func describeState(d describer, key string, s kube.ContainerState, empty string) {
	switch {
	case s.Running != nil:
		d.line(2, key, "Running")
		d.line(3, "Started", s.Running.StartedAt.Local().Format(time.RFC1123Z))
	case s.Terminated != nil:
		t := s.Terminated
		d.line(2, key, "Terminated")
		d.line(3, "Reason", orNone(t.Reason))
		if t.Message != "" {
			d.line(3, "Message", t.Message)
		}
		d.line(3, "Exit Code", t.ExitCode)
		if t.Signal != 0 {
			d.line(3, "Signal", t.Signal)
		}
		if !t.StartedAt.IsZero() {
			d.line(3, "Started", t.StartedAt.Local().Format(time.RFC1123Z))
		}
		d.line(3, "Finished", t.FinishedAt.Local().Format(time.RFC1123Z))
	case s.Waiting != nil:
		d.line(2, key, "Waiting")
		d.line(3, "Reason", orNone(s.Waiting.Reason))
		if s.Waiting.Message != "" {
			d.line(3, "Message", s.Waiting.Message)
		}
	case empty != "":
		d.line(2, key, empty)
	}
}

func describeQuantities(d describer, key string, q map[string]manifests.Quantity) {
	if len(q) == 0 {
		return
	}
	d.head(2, key)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.line(3, k, q[k].String())
	}
}

// describeEnv lists the container's environment as the manifest gives it;
// values from ConfigMaps and Secrets are named, never shown.
func describeEnv(d describer, c manifests.Container) {
	if len(c.Env) == 0 && len(c.EnvFrom) == 0 {
		d.line(2, "Environment", "<none>")
		return
	}
	if len(c.EnvFrom) > 0 {
		d.head(2, "Environment Variables from")
		for _, f := range c.EnvFrom {
			switch {
			case f.ConfigMapRef != nil:
				d.line(3, f.ConfigMapRef.Name, "ConfigMap with prefix '"+f.Prefix+"'")
			case f.SecretRef != nil:
				d.line(3, f.SecretRef.Name, "Secret with prefix '"+f.Prefix+"'")
			}
		}
	}
	if len(c.Env) == 0 {
		return
	}
	d.head(2, "Environment")
	for _, e := range c.Env {
		d.line(3, e.Name, envSource(e))
	}
}

func envSource(e manifests.EnvVar) string {
	v := e.ValueFrom
	switch {
	case v == nil:
		return e.Value
	case v.FieldRef != nil:
		return "(" + v.FieldRef.FieldPath + ")"
	case v.ResourceFieldRef != nil:
		return "(" + v.ResourceFieldRef.Resource + ")"
	case v.ConfigMapKeyRef != nil:
		return "<set to the key '" + v.ConfigMapKeyRef.Key + "' of config map '" + v.ConfigMapKeyRef.Name + "'>"
	case v.SecretKeyRef != nil:
		return "<set to the key '" + v.SecretKeyRef.Key + "' in secret '" + v.SecretKeyRef.Name + "'>"
	}
	return ""
}

func describeMounts(d describer, mounts []manifests.VolumeMount) {
	if len(mounts) == 0 {
		d.line(2, "Mounts", "<none>")
		return
	}
	d.head(2, "Mounts")
	for _, m := range mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		sub := ""
		if m.SubPath != "" {
			sub = ", path = \"" + m.SubPath + "\""
		}
		d.text(3, fmt.Sprintf("%s from %s (%s%s)", m.MountPath, m.Name, mode, sub))
	}
}

// describeConditions prints the pod conditions Kubernetes derives from the
// container states.
// describeConditions lists the pod's conditions as the daemon reports
// them, in its order.
func describeConditions(d describer, p api.Pod) {
	if len(p.Status.Conditions) == 0 {
		d.line(0, "Conditions", "<none>")
		return
	}
	d.head(0, "Conditions")
	fmt.Fprintf(d.tw, "  Type\tStatus\n")
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(d.tw, "  %s\t%s\n", c.Type, c.Status)
	}
}

func describeVolumes(d describer, vols []manifests.Volume) {
	if len(vols) == 0 {
		d.line(0, "Volumes", "<none>")
		return
	}
	d.head(0, "Volumes")
	for _, v := range vols {
		d.head(1, v.Name)
		switch {
		case v.EmptyDir != nil:
			d.line(2, "Type", "EmptyDir (a temporary directory that shares a pod's lifetime)")
			d.line(2, "Medium", v.EmptyDir.Medium)
			if v.EmptyDir.SizeLimit != nil {
				d.line(2, "SizeLimit", v.EmptyDir.SizeLimit.String())
			}
		case v.HostPath != nil:
			d.line(2, "Type", "HostPath (bare host directory volume)")
			d.line(2, "Path", v.HostPath.Path)
			d.line(2, "HostPathType", v.HostPath.Type)
		case v.ConfigMap != nil:
			d.line(2, "Type", "ConfigMap (a volume populated by a ConfigMap)")
			d.line(2, "Name", v.ConfigMap.Name)
			d.line(2, "Optional", v.ConfigMap.Optional != nil && *v.ConfigMap.Optional)
		case v.Secret != nil:
			d.line(2, "Type", "Secret (a volume populated by a Secret)")
			d.line(2, "SecretName", v.Secret.SecretName)
			d.line(2, "Optional", v.Secret.Optional != nil && *v.Secret.Optional)
		case v.PersistentVolumeClaim != nil:
			d.line(2, "Type", "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)")
			d.line(2, "ClaimName", v.PersistentVolumeClaim.ClaimName)
			d.line(2, "ReadOnly", v.PersistentVolumeClaim.ReadOnly)
		case v.Image != nil:
			d.line(2, "Type", "Image (a container image or OCI artifact)")
			d.line(2, "Reference", v.Image.Reference)
			d.line(2, "PullPolicy", v.Image.PullPolicy)
		}
	}
}

// describeEvents prints the events table, or "<none>".
func describeEvents(w io.Writer, events []api.Event, now time.Time) error {
	if len(events) == 0 {
		_, err := fmt.Fprintln(w, "Events:  <none>")
		return err
	}
	fmt.Fprintln(w, "Events:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  Type\tReason\tAge\tFrom\tMessage")
	fmt.Fprintln(tw, "  ----\t------\t----\t----\t-------")
	for _, e := range events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, eventAge(e, now), eventSource(e), e.Message)
	}
	return tw.Flush()
}

// eventAge is "10s", or "10s (x5 over 2m)" for a folded repeat, as kubectl
// prints it.
func eventAge(e api.Event, now time.Time) string {
	age := humanDuration(now.Sub(e.Time))
	if e.Count > 1 && !e.FirstTime.IsZero() {
		age += " (x" + strconv.Itoa(int(e.Count)) + " over " + humanDuration(now.Sub(e.FirstTime)) + ")"
	}
	return age
}

// eventSource is the FROM column: the container the event is about, or
// berth for the daemon's own events.
func eventSource(e api.Event) string {
	if e.Container != "" {
		return "container/" + e.Container
	}
	return "berth"
}

func titleBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
