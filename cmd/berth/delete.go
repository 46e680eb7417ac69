package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/manifests"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var files []string
	var wait bool
	var timeout time.Duration
	var namespace string
	cmd := &cobra.Command{
		Use:   "delete -f FILE | delete pod NAME",
		Short: "Remove pods from the manifest directory and wait until they are gone",
		RunE: func(cmd *cobra.Command, args []string) error {
			var objs []objectKey
			switch {
			case len(files) > 0 && len(args) == 0:
				ins, err := readInputs(files, cmd.InOrStdin())
				if err != nil {
					return err
				}
				for _, in := range ins {
					objs = append(objs, objectKeys(in.file)...)
				}
			case len(files) == 0 && len(args) >= 2 && (args[0] == "pod" || args[0] == "pods" || args[0] == "po"):
				for _, n := range args[1:] {
					objs = append(objs, objectKey{"Pod", namespace, n})
				}
			default:
				return errors.New("usage: berth delete -f FILE, or berth delete pod NAME...")
			}
			if err := removeFromDir(cmd.OutOrStdout(), g.manifests, objs); err != nil {
				return err
			}
			var keys []api.PodKey
			for _, o := range objs {
				if o.kind == "Pod" {
					keys = append(keys, api.PodKey{Namespace: o.namespace, Name: o.name})
				}
			}
			c := api.NewClient(g.socket)
			if err := c.Reconcile(cmd.Context()); err != nil {
				return err
			}
			if !wait {
				return nil
			}
			deadline := time.Now().Add(timeout)
			for _, k := range keys {
				gone, err := c.WaitGone(cmd.Context(), k.Namespace, k.Name, time.Until(deadline))
				if err != nil {
					return fmt.Errorf("wait for pod %s/%s to go: %w", k.Namespace, k.Name, err)
				}
				if !gone {
					return fmt.Errorf("pod %s/%s is still there after %s", k.Namespace, k.Name, timeout)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file or directory naming the pods to delete")
	cmd.Flags().BoolVar(&wait, "wait", true, "wait until the pods and everything they held are gone")
	cmd.Flags().DurationVar(&timeout, "timeout", waitTimeout, "how long to wait")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace of pods named on the command line")
	return cmd
}

// objectKey names a document: kind, namespace and name.
type objectKey struct{ kind, namespace, name string }

func objectKeys(f *manifests.File) []objectKey {
	var out []objectKey
	for _, d := range f.Docs {
		switch {
		case d.Pod != nil:
			out = append(out, objectKey{"Pod", d.Pod.Namespace, d.Pod.Name})
		case d.ConfigMap != nil:
			out = append(out, objectKey{"ConfigMap", d.ConfigMap.Namespace, d.ConfigMap.Name})
		case d.Secret != nil:
			out = append(out, objectKey{"Secret", d.Secret.Namespace, d.Secret.Name})
		case d.Claim != nil:
			out = append(out, objectKey{"PersistentVolumeClaim", d.Claim.Namespace, d.Claim.Name})
		}
	}
	return out
}

// removeFromDir takes the given objects out of the manifest directory: their
// documents are cut out of the files that declare them, and a file left with
// no document is removed.
func removeFromDir(w io.Writer, dir string, objs []objectKey) error {
	want := map[objectKey]bool{}
	for _, k := range objs {
		want[k] = true
	}
	found := map[objectKey]bool{}
	files, err := countedFiles(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var keep [][]byte
		removed := 0
		for _, doc := range splitDocuments(data) {
			ks := objectKeys(manifests.Parse(p, doc))
			if len(ks) == 1 && want[ks[0]] {
				found[ks[0]] = true
				removed++
				fmt.Fprintf(w, "%s/%s deleted\n", strings.ToLower(ks[0].kind), ks[0].name)
				continue
			}
			keep = append(keep, doc)
		}
		switch {
		case removed == 0:
		case len(keep) == 0:
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove %s: %w", p, err)
			}
		default:
			if err := atomicfile.WriteFile(p, bytes.Join(keep, []byte("---\n")), 0o644); err != nil {
				return err
			}
		}
	}
	for _, k := range objs {
		if !found[k] {
			return fmt.Errorf("%s %s/%s is not declared by any file in %s", strings.ToLower(k.kind), k.namespace, k.name, filepath.Clean(dir))
		}
	}
	return nil
}

// splitDocuments cuts a multi-document YAML file at its "---" separator
// lines, keeping each document's text as written.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		trimmed := bytes.TrimRight(line, " \t\r\n")
		if bytes.Equal(trimmed, []byte("---")) || bytes.HasPrefix(line, []byte("--- ")) {
			if len(bytes.TrimSpace(cur)) > 0 {
				docs = append(docs, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, line...)
	}
	if len(bytes.TrimSpace(cur)) > 0 {
		docs = append(docs, cur)
	}
	return docs
}
