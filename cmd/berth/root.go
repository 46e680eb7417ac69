package main

import (
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// Default paths, a contract users script against (docs/design.md).
const (
	defaultManifests = "/etc/berth/manifests"
	defaultStateDir  = "/var/lib/berth"
	defaultRunDir    = "/run/berth"
	defaultLogDir    = "/var/log/berth/pods"
	defaultSocket    = "/run/berth/berth.sock"
	// defaultRegistries need not exist.
	defaultRegistries = "/etc/berth/registries.yaml"
)

// globals are the flags every verb shares.
type globals struct {
	manifests string
	stateDir  string
	runDir    string
	logDir    string
	socket    string
	logLevel  string
	// registries is the registries config file.
	registries string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "berth",
		Short:         "berth runs Kubernetes Pod manifests on one machine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.manifests, "manifests", defaultManifests, "manifest directory")
	pf.StringVar(&g.stateDir, "state-dir", defaultStateDir, "state directory (pods, images, leases)")
	pf.StringVar(&g.runDir, "run-dir", defaultRunDir, "runtime directory (sockets)")
	pf.StringVar(&g.logDir, "log-dir", defaultLogDir, "container log directory")
	sock := defaultSocket
	if s := os.Getenv("BERTH_SOCKET"); s != "" {
		sock = s
	}
	pf.StringVar(&g.socket, "socket", sock, "daemon API socket (env BERTH_SOCKET)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&g.registries, "registries-config", defaultRegistries, "registries config: mirrors, insecure hosts, CAs, credentials file (the default need not exist)")

	root.AddCommand(fullVerbs(g)...)
	root.AddCommand(
		newApplyCmd(g),
		newDiffCmd(g),
		newDeleteCmd(g),
		newExecCmd(g),
		newAttachCmd(g),
		newGetCmd(g),
		newDescribeCmd(g),
		newLogsCmd(g),
		newValidateCmd(g),
		newExplainCmd(),
		newVersionCmd(),
	)
	return root
}

// exitCoder is an error that carries the process exit code (validate,
// exec); an empty message prints nothing.
type exitCoder interface {
	error
	ExitCode() int
}

type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

func asExitCoder(err error, target *exitCoder) bool { return errors.As(err, target) }

// waitTimeout bounds how long apply and delete wait by default.
const waitTimeout = 5 * time.Minute
