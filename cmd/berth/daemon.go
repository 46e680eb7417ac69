//go:build !berthlean

package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/daemon"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/crilog"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/netsetup"
	"github.com/berth-project/berth/reconciler"
)

func newDaemonCmd(g *globals) *cobra.Command {
	var cfg daemon.Config
	var backoffInitial, backoffMax, backoffReset time.Duration
	var logMaxSize string
	cmd := &cobra.Command{
		Use:   daemonVerb.use,
		Short: daemonVerb.short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nameFromLean()
			log, err := newLogger(g.logLevel)
			if err != nil {
				return err
			}
			cfg.ManifestDir, cfg.StateDir, cfg.RunDir, cfg.LogDir, cfg.Socket = g.manifests, g.stateDir, g.runDir, g.logDir, g.socket
			cfg.Backoff = infra.BackoffConfig{Initial: backoffInitial, Max: backoffMax, ResetAfter: backoffReset}
			cfg.Log = log
			if cfg.Registries, err = g.registriesConfig(); err != nil {
				return err
			}
			if err := cfg.ImageGC.Check(); err != nil {
				return err
			}
			if cfg.LogMaxSize, err = parseLogMaxSize(logMaxSize); err != nil {
				return err
			}
			if cfg.LogMaxFiles < 2 {
				return fmt.Errorf("--container-log-max-files %d: want at least 2 (the current file and one more)", cfg.LogMaxFiles)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return daemon.Run(ctx, cfg)
		},
	}
	cfg.ImageGC = images.GCPolicy{MinAge: images.DefaultGCMinAge}
	addGCFlags(cmd, &cfg.ImageGC)
	f := cmd.Flags()
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "also serve Prometheus metrics at http://HOST:PORT/metrics, WITHOUT authentication (the API socket always serves /metrics)")
	f.StringVar(&cfg.SocketGroup, "socket-group", "", "group (name or gid) that may use the API socket: makes it 0660 instead of 0600")
	f.StringVar(&cfg.Bridge, "bridge", netsetup.DefaultBridge, "bridge the pods attach to")
	f.StringVar(&cfg.CIDR, "cidr", netsetup.DefaultCIDR, "pod network; the bridge gets its first address")
	f.StringVar(&cfg.NFTable, "nft-table", netsetup.DefaultTable, "nftables table berth owns (NAT, hostPort)")
	f.StringVar(&cfg.CgroupRoot, "cgroup-root", "/sys/fs/cgroup", "cgroup file system mount point")
	f.StringVar(&cfg.CgroupParent, "cgroup-parent", "berth", "cgroup under which pod cgroups are made")
	f.DurationVar(&cfg.Resync, "resync", manifestdir.DefaultResync, "re-list the manifest directory this often, events or not")
	f.DurationVar(&cfg.Debounce, "debounce", manifestdir.DefaultDebounce, "wait this long after a file event before acting")
	f.IntVar(&cfg.Parallel, "parallel", 8, "pods created or removed at once")
	f.DurationVar(&cfg.RolloutDeadline, "rollout-deadline", reconciler.DefaultRolloutDeadline, "how long a changed pod spec has to become ready before the pod returns to its last good spec (annotation berth.io/rollout-deadline)")
	f.DurationVar(&cfg.MinReady, "min-ready", reconciler.DefaultMinReady, "how long a container without a readiness probe must run for a changed spec to count as ready (annotation berth.io/min-ready)")
	f.BoolVar(&cfg.StopPodsOnExit, "stop-pods-on-exit", false, "when the daemon is asked to stop, remove every pod, those that wait for others (berth.io/after) first")
	f.BoolVar(&cfg.TimingEvents, "timing-events", false, "record each pod's start time by phase as a StartTimings event (it is always in the \"pod created\" log line)")
	f.StringVar(&logMaxSize, "container-log-max-size", "10Mi", "rotate a container's log file past this size (Kubernetes: containerLogMaxSize)")
	f.IntVar(&cfg.LogMaxFiles, "container-log-max-files", crilog.DefaultMaxFiles, "log files kept per container run, the current one included, at least 2 (Kubernetes: containerLogMaxFiles)")
	f.DurationVar(&backoffInitial, "backoff-initial", infra.DefaultBackoff.Initial, "first restart back-off (Kubernetes: 10s)")
	f.DurationVar(&backoffMax, "backoff-max", infra.DefaultBackoff.Max, "longest restart back-off (Kubernetes: 5m)")
	f.DurationVar(&backoffReset, "backoff-reset", infra.DefaultBackoff.ResetAfter, "a run this long resets the back-off (Kubernetes: 10m)")
	return cmd
}

// newLogger returns the daemon's structured logger: one line per event on
// standard error.
func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// parseLogMaxSize reads --container-log-max-size, a quantity such as 10Mi.
func parseLogMaxSize(s string) (int64, error) {
	q, err := manifests.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("--container-log-max-size: %w", err)
	}
	if q.Value() < 1024 {
		return 0, fmt.Errorf("--container-log-max-size %q: want at least 1Ki, such as 10Mi", s)
	}
	return q.Value(), nil
}
