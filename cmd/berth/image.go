//go:build !berthlean

package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/daemon"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/registry"
)

func newImageCmd(g *globals) *cobra.Command {
	img := &cobra.Command{Use: imageVerb.use, Short: imageVerb.short}
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

	var platform string
	pull := &cobra.Command{
		Use:   "pull REF",
		Short: "Pull an image from a registry (credentials from the Docker config.json)",
		Long: `Pull an image from a registry into the local store: "nginx:1.27" is
docker.io/library/nginx:1.27, "name@sha256:..." pins a digest. From an image
index, the image for this machine's platform is chosen, or --platform's.
Credentials come from the registries config's credentials file, then
config.json in $DOCKER_CONFIG or ~/.docker (what docker login writes,
credential helpers included). Mirrors, plain-HTTP registries and CA
bundles are set in the registries config (--registries-config).
Registries on this machine (localhost, 127.0.0.0/8, ::1) may be plain
HTTP; all others are HTTPS unless set insecure there.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plat := images.DefaultPlatform()
			if platform != "" {
				var err error
				if plat, err = images.ParsePlatform(platform); err != nil {
					return fmt.Errorf("--platform: %w", err)
				}
			}
			s, err := open()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			prog := newPullProgress(out, isTerminal(out))
			rc, err := g.registriesConfig()
			if err != nil {
				return err
			}
			p, err := registry.New(s, registry.Options{Config: rc})
			if err != nil {
				return err
			}
			res, err := p.Pull(cmd.Context(), args[0], plat, prog)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "pulled %s %s (digest %s, %s downloaded in %s)\n", res.Ref, shortID(res.Image.ID),
				res.Digest, humanBytes(res.Downloaded), res.Duration.Round(time.Millisecond))
			return nil
		},
	}
	pull.Flags().StringVar(&platform, "platform", "", "os/arch[/variant] to choose from an image index, such as linux/arm64 (default: this machine's)")

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
			fmt.Fprintln(tw, "REFERENCE\tDIGEST\tIMAGE ID\tSIZE")
			for _, im := range list {
				for _, r := range refRows(im.Refs) {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ref, r.digest, shortID(im.ID), humanBytes(im.Size))
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
	var all bool
	gcPolicy := images.GCPolicy{High: images.DefaultGCHigh, Low: images.DefaultGCLow}
	prune := &cobra.Command{
		Use:   "prune [--all]",
		Short: "Remove images no pod uses: down to the low threshold when above the high one, or all of them",
		Long: `Remove images that no pod created by the daemon (running, or kept as
the last good version of its manifest) uses and no manifest names. Without --all, this is the
daemon's garbage collection run now: when the store's file system is
fuller than --image-gc-high-threshold, unused images are removed, least
recently used first, until it is at most --image-gc-low-threshold full.
With --all, every unused image is removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := gcPolicy.Check(); err != nil {
				return err
			}
			s, err := open()
			if err != nil {
				return err
			}
			var snap *manifestdir.Snapshot
			if _, err := os.Stat(g.manifests); err == nil {
				if snap, err = manifestdir.Load(g.manifests); err != nil {
					return fmt.Errorf("read the manifests, whose images are kept: %w", err)
				}
			}
			inUse, err := daemon.ImagesInUse(s, g.stateDir, snap)
			if err != nil {
				return err
			}
			var removed []images.Image
			if all {
				removed, err = s.Prune(inUse, time.Now())
			} else {
				removed, err = s.GC(gcPolicy, inUse, time.Now())
			}
			for _, im := range removed {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s %s (%s)\n", cmp.Or(strings.Join(im.Refs, ","), "<none>"), shortID(im.ID), humanBytes(im.Size))
			}
			return err
		},
	}
	prune.Flags().BoolVar(&all, "all", false, "remove every image no pod uses, however full the file system is")
	addGCFlags(prune, &gcPolicy)
	img.AddCommand(imp, pull, ls, rm, prune)
	return img
}

// refRow is a line of image ls: a reference and its repository's digest.
type refRow struct{ ref, digest string }

// refRows folds an image's digest references into the tagged references
// of the same repository, as the DIGEST column of docker images --digests
// does; a digest reference whose repository has no tag keeps its own row.
// An image without references is one "<none>" row.
func refRows(refs []string) []refRow {
	type parsed struct {
		ref, repo, digest string // digest set for a digest reference
	}
	var ps []parsed
	digests := map[string]string{} // repository -> digest
	for _, r := range refs {
		p := parsed{ref: r, repo: r}
		if parsed, err := images.ParseRef(r); err == nil {
			p.repo = parsed.Name()
			if parsed.Digest != "" {
				p.digest = parsed.Digest.String()
				digests[p.repo] = p.digest
			}
		}
		ps = append(ps, p)
	}
	var rows []refRow
	tagged := map[string]bool{}
	for _, p := range ps {
		if p.digest == "" {
			rows = append(rows, refRow{p.ref, cmp.Or(digests[p.repo], "<none>")})
			tagged[p.repo] = true
		}
	}
	for _, p := range ps {
		if p.digest != "" && !tagged[p.repo] {
			rows = append(rows, refRow{p.ref, p.digest})
		}
	}
	if len(rows) == 0 {
		rows = append(rows, refRow{"<none>", "<none>"})
	}
	return rows
}

// isTerminal reports whether w is a terminal, for progress display.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
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

// addGCFlags adds the image garbage collection thresholds (the kubelet's
// imageGCHighThresholdPercent and imageGCLowThresholdPercent).
func addGCFlags(cmd *cobra.Command, p *images.GCPolicy) {
	cmd.Flags().IntVar(&p.High, "image-gc-high-threshold", images.DefaultGCHigh, "percent of the image store's file system above which unused images are removed")
	cmd.Flags().IntVar(&p.Low, "image-gc-low-threshold", images.DefaultGCLow, "percent of the image store's file system that image garbage collection goes down to")
}
