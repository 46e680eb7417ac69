package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/images"
)

func newImageCmd(g *globals) *cobra.Command {
	img := &cobra.Command{Use: "image", Short: "Manage the local image store (no daemon needed)"}
	open := func() (*images.Store, error) { return images.Open(filepath.Join(g.stateDir, "images")) }

	var rootfs string
	imp := &cobra.Command{
		Use:   "import FILE|- | --rootfs DIR NAME:TAG",
		Short: "Import a docker-save or OCI-layout tar, or a directory as a one-layer image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			if rootfs != "" {
				im, err := s.ImportRootfs(rootfs, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s %s\n", strings.Join(im.Refs, ","), shortID(im.ID))
				return nil
			}
			in := os.Stdin
			if args[0] != "-" {
				if in, err = os.Open(args[0]); err != nil {
					return fmt.Errorf("import %s: %w", args[0], err)
				}
				defer in.Close()
			}
			ims, err := s.Import(in)
			if err != nil {
				return fmt.Errorf("import %s: %w", args[0], err)
			}
			for _, im := range ims {
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s %s\n", strings.Join(im.Refs, ","), shortID(im.ID))
			}
			return nil
		},
	}
	imp.Flags().StringVar(&rootfs, "rootfs", "", "make a one-layer image from this directory; the argument is NAME:TAG")

	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tIMAGE ID\tSIZE")
			for _, im := range list {
				refs := im.Refs
				if len(refs) == 0 {
					refs = []string{"<none>"}
				}
				for _, r := range refs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r, shortID(im.ID), humanBytes(im.Size))
				}
			}
			return tw.Flush()
		},
	}
	rm := &cobra.Command{
		Use:   "rm REF...",
		Short: "Remove image references; unreferenced layers are deleted",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			for _, r := range args {
				if err := s.Remove(r); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", r)
			}
			return nil
		},
	}
	img.AddCommand(imp, ls, rm)
	return img
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
