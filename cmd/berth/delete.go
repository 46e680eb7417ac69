package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
			var keys []podKey
			switch {
			case len(files) > 0 && len(args) == 0:
				ins, err := readInputs(files, cmd.InOrStdin())
				if err != nil {
					return err
				}
				for _, in := range ins {
					keys = append(keys, podKeys(in.file)...)
				}
			case len(files) == 0 && len(args) >= 2 && (args[0] == "pod" || args[0] == "pods" || args[0] == "po"):
				for _, n := range args[1:] {
					keys = append(keys, podKey{namespace, n})
				}
			default:
				return errors.New("usage: berth delete -f FILE, or berth delete pod NAME...")
			}
			if err := removeFromDir(cmd.OutOrStdout(), g.manifests, keys); err != nil {
				return err
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
				gone, err := c.WaitGone(cmd.Context(), k.namespace, k.name, time.Until(deadline))
				if err != nil {
					return fmt.Errorf("wait for pod %s/%s to go: %w", k.namespace, k.name, err)
				}
				if !gone {
					return fmt.Errorf("pod %s/%s is still there after %s", k.namespace, k.name, timeout)
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

// removeFromDir takes the given pods out of the manifest directory: a file
// declaring only those pods (and ConfigMaps/Secrets) is removed; from a file
// that declares other pods too, only their documents are cut out.
func removeFromDir(w io.Writer, dir string, keys []podKey) error {
	want := map[podKey]bool{}
	for _, k := range keys {
		want[k] = true
	}
	found := map[podKey]bool{}
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
		removed, others := 0, 0
		for _, doc := range splitDocuments(data) {
			f := manifests.Parse(p, doc)
			ks := podKeys(f)
			if len(ks) == 1 && want[ks[0]] {
				found[ks[0]] = true
				removed++
				fmt.Fprintf(w, "pod/%s deleted\n", ks[0].name)
				continue
			}
			if len(ks) > 0 {
				others++
			}
			keep = append(keep, doc)
		}
		switch {
		case removed == 0:
		case others == 0:
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove %s: %w", p, err)
			}
		default:
			if err := atomicfile.WriteFile(p, bytes.Join(keep, []byte("---\n")), 0o644); err != nil {
				return err
			}
		}
	}
	for _, k := range keys {
		if !found[k] {
			return fmt.Errorf("pod %s/%s is not declared by any file in %s", k.namespace, k.name, filepath.Clean(dir))
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
