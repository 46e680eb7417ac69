package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/execin"
)

func newExecCmd(g *globals) *cobra.Command {
	var namespace, ctr string
	var stdin, tty bool
	c := &cobra.Command{
		Use:   "exec [-i] [-t] POD [-c CONTAINER] -- COMMAND [ARGS...]",
		Short: "Run a command in a running container",
		Long: "Run a command in a running container: in its namespaces and cgroup, as its user, " +
			"with its capabilities, environment and working directory. berth exits with the " +
			"command's exit code (128+N when signal N ended it; 126 when it could not be run, " +
			"127 when it was not found). Needs root.",
		Example: "  berth exec web -- ls /\n  berth exec -it web -c app -- sh",
		RunE: func(cmd *cobra.Command, args []string) error {
			pod, command, err := splitExecArgs(args, cmd.ArgsLenAtDash())
			if err != nil {
				return err
			}
			t, err := api.NewClient(g.socket).ExecTarget(cmd.Context(), namespace, pod, ctr)
			if err != nil {
				return fmt.Errorf("exec in pod %s/%s: %w", namespace, pod, err)
			}
			cfg := execin.NewConfig(execin.Target(t), command, tty, os.Getenv("TERM"))
			code, err := execin.Run(execin.Options{Config: cfg, Stdin: stdin, In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
			return execResult(cfg.Target, code, err)
		},
	}
	f := c.Flags()
	f.StringVarP(&namespace, "namespace", "n", "default", "namespace of the pod")
	f.StringVarP(&ctr, "container", "c", "", "container name (may be omitted when the pod has one)")
	f.BoolVarP(&stdin, "stdin", "i", false, "pass stdin to the command")
	f.BoolVarP(&tty, "tty", "t", false, "run the command on a terminal")
	return c
}

// splitExecArgs splits `POD -- COMMAND [ARGS...]` (dash is the index of
// the first argument after "--", -1 without one).
func splitExecArgs(args []string, dash int) (pod string, command []string, err error) {
	const usage = "usage: berth exec [-i] [-t] POD [-c CONTAINER] -- COMMAND [ARGS...]"
	switch {
	case dash < 0:
		return "", nil, errors.New("missing \"--\" before the command; " + usage)
	case dash == 0:
		return "", nil, errors.New("missing pod name; " + usage)
	case dash > 1:
		return "", nil, fmt.Errorf("one pod name expected before \"--\", got %q; %s", strings.Join(args[:dash], " "), usage)
	case dash == len(args):
		return "", nil, errors.New("missing command after \"--\"; " + usage)
	}
	return args[0], args[dash:], nil
}

// execResult turns what Run returned into berth's exit: the command's
// status as it is, setup failures with 126/127 and their cause.
func execResult(target string, code int, err error) error {
	var se *execin.SetupError
	switch {
	case errors.As(err, &se):
		return &exitError{code: se.ExitCode(), msg: fmt.Sprintf("exec in %s: %v", target, se)}
	case err != nil:
		return fmt.Errorf("exec in %s: %w", target, err)
	case code != 0:
		return &exitError{code: code}
	}
	return nil
}
