package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/manifests"
)

func newValidateCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check manifests without running them; exits non-zero when any is invalid",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var problems []manifests.Problem
			for _, a := range args {
				ps, err := validatePath(a)
				if err != nil {
					return err
				}
				problems = append(problems, ps...)
			}
			if reportProblems(cmd.ErrOrStderr(), problems) {
				return &exitError{code: 1}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d path(s) valid\n", len(args))
			return nil
		},
	}
}

// validatePath checks one file, or a directory the way the daemon reads it
// (only the files that count, with cross-document references resolved).
func validatePath(path string) ([]manifests.Problem, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	if st.IsDir() {
		snap, err := manifestdir.Load(path)
		if err != nil {
			return nil, fmt.Errorf("validate %s: %w", path, err)
		}
		return snap.Problems, nil
	}
	f, err := manifests.ParseFile(path)
	if err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	return f.Problems(), nil
}

// reportProblems prints every problem, one a line, and says whether any of
// them stops the manifest from running (warnings alone do not).
func reportProblems(w io.Writer, problems []manifests.Problem) (fatal bool) {
	for _, p := range problems {
		fmt.Fprintln(w, p.String())
		if p.Refuses() {
			fatal = true
		}
	}
	return fatal
}
