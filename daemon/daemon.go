// Package daemon wires berth's parts into `berth daemon`: it opens the
// stores, re-attaches to running pods, watches the manifest directory,
// reconciles, serves the local API and tells systemd when it is ready.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/downward"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/cgroups"
	"github.com/berth-project/berth/hostcheck"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/infra"
	"github.com/berth-project/berth/internal/embedbin"
	"github.com/berth-project/berth/internal/sealed"
	"github.com/berth-project/berth/kube"
	"github.com/berth-project/berth/manifestdir"
	"github.com/berth-project/berth/manifests"
	"github.com/berth-project/berth/metrics"
	"github.com/berth-project/berth/netsetup"
	"github.com/berth-project/berth/pod"
	"github.com/berth-project/berth/reconciler"
	"github.com/berth-project/berth/registry"
)

// Config is the daemon's configuration; the zero value of a field selects
// its default.
type Config struct {
	ManifestDir, StateDir, RunDir, LogDir, Socket string
	// LogMaxSize and LogMaxFiles rotate container logs (infra.PodConfig).
	LogMaxSize  int64
	LogMaxFiles int

	// SocketGroup, when set, is the group (name or gid) allowed to use the
	// API socket: it becomes 0660 instead of 0600.
	SocketGroup string

	Bridge, CIDR, NFTable string
	CgroupRoot            string
	CgroupParent          string

	Resync   time.Duration
	Debounce time.Duration
	Backoff  infra.BackoffConfig
	Parallel int
	// TimingEvents records each pod's start breakdown as an event too.
	TimingEvents bool
	// RolloutDeadline and MinReady are the defaults of a changed spec's
	// gate (reconciler.Gate); StopPodsOnExit removes every pod when the
	// daemon is asked to stop, dependents first.
	RolloutDeadline, MinReady time.Duration
	StopPodsOnExit            bool
	// MetricsAddr, when set, serves GET /metrics on this TCP address too,
	// without authentication; the API socket always serves it.
	MetricsAddr string
	// Registries holds mirrors, TLS settings and the credentials file
	// (registry.LoadConfig); ImageGC when unused images are removed.
	Registries *registry.Config
	ImageGC    images.GCPolicy

	Log *slog.Logger
}

// Run runs the daemon until ctx ends. Stopping the daemon never stops pods:
// they keep running under their infra processes and are re-attached on the
// next start.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	if err := hostcheck.CheckRoot(os.Geteuid()); err != nil {
		return err
	}
	gid, err := socketGID(cfg.SocketGroup)
	if err != nil {
		return err
	}
	if err := makeDirs(cfg); err != nil {
		return err
	}
	unlock, err := lockState(cfg.StateDir)
	if err != nil {
		return err
	}
	defer unlock()

	exe, err := sealInit(filepath.Join(cfg.RunDir, "bin"), log)
	if err != nil {
		return err
	}
	defer exe.Close()
	store, err := images.Open(filepath.Join(cfg.StateDir, "images"), images.WithLogger(log))
	if err != nil {
		return err
	}
	cg, err := cgroups.New(cgroups.Options{Root: cfg.CgroupRoot, Parent: cfg.CgroupParent, Log: log})
	if err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	// Fatal host problems stop the daemon; a missing memory controller only
	// fails the pods that set a memory limit, with the reason in their status.
	facts := hostcheck.Gather(hostcheck.Sources{}, cg)
	checks := hostcheck.Evaluate(facts)
	if err := checks.Err(); err != nil {
		return err
	}
	for _, w := range checks.Warnings {
		log.Warn("host check", "err", w)
	}
	netw, err := netsetup.New(netsetup.Config{
		Bridge: cfg.Bridge, CIDR: cfg.CIDR, Table: cfg.NFTable,
		StateDir: filepath.Join(cfg.StateDir, "net"), Log: log,
	})
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	defer netw.Close()
	if err := netw.EnsureHost(); err != nil {
		return fmt.Errorf("network: %w", err)
	}

	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return fmt.Errorf("read the host's memory size: %w", err)
	}
	events := newEventLog(1000, log)
	loader := manifestdir.NewLoader(cfg.ManifestDir)
	timed := &timedSource{Source: loader}
	var b *backend
	onEvent := func(e pod.Event) {
		events.add(apiEvent(e))
		if b != nil { // set before the first pass, so before any create
			timed.podStarted(e, b.metrics)
			if e.Reason == kube.EventDeleted && e.Container == "" {
				b.metrics.ForgetPod(e.Namespace, e.Name)
			}
		}
	}
	trigger := make(chan struct{}, 1)
	poke := func() {
		select {
		case trigger <- struct{}{}:
		default:
		}
	}
	gc := &imageGC{store: store, policy: cfg.ImageGC, stateDir: cfg.StateDir, latest: loader.Latest, events: events, log: log,
		kick: make(chan struct{}, 1)}
	puller, err := registry.New(store, registry.Options{Config: cfg.Registries, Log: log})
	if err != nil {
		return err
	}
	pull := registry.NewResolver(puller, registry.ResolverOptions{
		Event: func(ns, name, reason, msg string) {
			events.add(api.Event{Time: time.Now().UTC(), Type: api.EventNormal, Reason: reason, Object: api.PodObject(ns, name), Message: msg})
		},
		// Pods waiting for the image are created in the next pass.
		Done:        func() { poke(); gc.poke() },
		Credentials: func(ns, name string) (*registry.DockerConfig, error) { return pullSecrets(loader.Latest(), ns, name) },
		Log:         log,
		// Pulls start in creates, once b is set.
		Pulled: func(res registry.Result, err error) { b.metrics.ObservePull(err == nil, res.Downloaded) },
	})
	execProbes := newExecProber(exe.Path)
	mgr := pod.NewManager(pod.Config{
		StateDir: cfg.StateDir, RunDir: cfg.RunDir, LogDir: cfg.LogDir,
		LogMaxSize: cfg.LogMaxSize, LogMaxFiles: cfg.LogMaxFiles,
		Exe: exe.Path, Images: store, Cgroups: cg, Net: netw, Backoff: cfg.Backoff,
		MemoryCapacity: int64(si.Totalram) * int64(si.Unit),
		Node:           nodeAllocatable(cfg.StateDir, int64(si.Totalram)*int64(si.Unit)),
		TimingEvents:   cfg.TimingEvents,
		NoPivot:        facts.RamfsRoot,
		Objects:        func(ns string) pod.Objects { return objectsOf(loader.Latest(), ns) },
		Event:          onEvent,
		InfraExited:    poke,
		ExecProbe:      execProbes.probe,
		ExecHook:       execProbes.hook,
		Log:            log,
		Pull:           pull,
		ProbeRun: func(r pod.ProbeRun) {
			b.metrics.ObserveProbe(r.Type.String(), probeResult(r.Result), r.Container, r.Namespace, r.Name, r.UID)
		},
	})
	b = &backend{mgr: mgr, loader: loader, events: events, logDir: cfg.LogDir, recovered: make(chan struct{})}
	b.metrics = metrics.New(metricsSource{b: b, cg: cg, stateDir: cfg.StateDir},
		metrics.Node{CPUs: runtime.NumCPU(), MemoryBytes: uint64(si.Totalram) * uint64(si.Unit)}, log)
	events.count = b.metrics.ObserveEvent
	ready := make(chan struct{})
	notifyReady := firstPass(ready, log)
	status := &statusNotifier{log: log, send: func(state string) error {
		_, err := daemon.SdNotify(false, state)
		return err
	}}
	b.rec = reconciler.New(timed, mgr, log, reconciler.Options{
		Parallel: cfg.Parallel,
		Gate:     reconciler.Gate{Deadline: cfg.RolloutDeadline, MinReady: cfg.MinReady},
		OnPass: func(r reconciler.Result) {
			b.metrics.ObserveReconcile(time.Since(timed.began))
			mgr.Refresh(ctx)
			b.forgetUndesired()
			b.reportProblems()
			status.update(statusText(mgr.Summary(), b.rec.Problems()))
			notifyReady(r)
		},
	})

	l, err := api.Listen(cfg.Socket, gid)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	served := make(chan struct{})
	var serveErr error
	go func() {
		defer close(served)
		serveErr = api.Serve(ctx, l, api.Handler(b, log))
	}()
	// Serve removes the socket file when it returns: wait for it, or a
	// stopped daemon may leave its socket behind.
	defer func() {
		cancel()
		<-served
	}()
	var metricsErr <-chan error // nil: never ready without --metrics-addr
	if cfg.MetricsAddr != "" {
		if metricsErr, err = serveMetricsTCP(ctx, cfg.MetricsAddr, b.metrics.Handler(), log); err != nil {
			return err
		}
	}

	// The socket answers from now on; requests wait for the recovery,
	// which asks every infra in parallel with a deadline per call.
	if err := mgr.Recover(ctx); err != nil {
		log.Error("recovery left something behind", "err", err)
	}
	observed, _ := mgr.ListPods(ctx)
	loader.Seed(observed)
	close(b.recovered)

	go manifestdir.Watch(ctx, cfg.ManifestDir, manifestdir.WatchOptions{Debounce: cfg.Debounce, Resync: cfg.Resync, Log: log}, poke)
	go func() { errc <- b.rec.Run(ctx, trigger) }()
	go gc.run(ctx)
	poke()
	startWatchdog(ctx, log)
	log.Info("berth daemon started", "manifests", cfg.ManifestDir, "socket", cfg.Socket, "cgroups", cg.Mode().String())

	select {
	case <-ctx.Done():
		if _, err := daemon.SdNotify(false, daemon.SdNotifyStopping); err != nil {
			log.Warn("sd_notify STOPPING failed", "err", err)
		}
		if !cfg.StopPodsOnExit {
			log.Info("berth daemon stopping; pods keep running")
			return nil
		}
		log.Info("berth daemon stopping; removing every pod, dependents first")
		<-errc // the pass under way, if any, is over
		return mgr.StopAll(context.WithoutCancel(ctx))
	case <-served:
		return serveErr
	case err := <-errc:
		return err
	case err := <-metricsErr:
		return err
	}
}

// sealInit seals the binary every infra and container-init process runs
// from: the lean one embedded by hack/build, or else berth itself, which has
// the same entry points.
func sealInit(fallbackDir string, log *slog.Logger) (*sealed.Binary, error) {
	if lean, size, ok := embedbin.Open(embedbin.Init); ok {
		defer lean.Close()
		exe, err := sealed.SealReader(embedbin.Init, lean, fallbackDir)
		if err != nil {
			return nil, fmt.Errorf("seal embedded init binary: %w", err)
		}
		log.Info("init binary", "source", "embedded", "size", size)
		return exe, nil
	}
	exe, err := sealed.Seal(fallbackDir)
	if err != nil {
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	log.Info("init binary", "source", "self", "hint", "build with `make build` or hack/build to embed the lean init binary")
	return exe, nil
}

// firstPass tells systemd (Type=notify) the daemon is ready once the first
// reconcile pass has finished, and logs every pass that did something.
func firstPass(ready chan struct{}, log *slog.Logger) func(reconciler.Result) {
	return func(r reconciler.Result) {
		select {
		case <-ready:
		default:
			close(ready)
			if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
				log.Warn("sd_notify READY failed", "err", err)
			}
		}
	}
}

// startWatchdog pings systemd's watchdog (WatchdogSec= in berth.service)
// at half the interval it asks for, from a goroutine that exists only when
// it asks: without a watchdog the daemon has no timer of its own. The pings
// stop when ctx ends.
func startWatchdog(ctx context.Context, log *slog.Logger) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog settings unusable; not sending keep-alives", "err", err)
		return
	}
	if interval <= 0 {
		return
	}
	log.Info("systemd watchdog enabled", "interval", interval)
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
					log.Warn("sd_notify WATCHDOG failed", "err", err)
				}
			}
		}
	}()
}

// socketGID is the gid of the API socket's group, or -1 for root only.
func socketGID(group string) (int, error) {
	if group == "" {
		return -1, nil
	}
	return api.LookupGroup(group)
}

func makeDirs(cfg Config) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{cfg.ManifestDir, 0o755}, {cfg.StateDir, 0o700}, {cfg.RunDir, 0o755},
		{filepath.Join(cfg.RunDir, "pods"), 0o700}, {cfg.LogDir, 0o750},
	} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("create %s: %w", d.path, err)
		}
	}
	return nil
}

// lockState makes sure one daemon at a time uses a state directory.
func lockState(dir string) (func(), error) {
	p := filepath.Join(dir, "daemon.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("state directory %s is in use by another berth daemon (lock %s): %w", dir, p, err)
	}
	return func() { f.Close() }, nil
}

func objectsOf(s *manifestdir.Snapshot, ns string) pod.Objects {
	o := pod.Objects{ConfigMaps: map[string]*manifests.ConfigMap{}, Secrets: map[string]*manifests.Secret{},
		Claims: map[string]*manifests.PersistentVolumeClaim{}}
	if s == nil {
		return o
	}
	for k, v := range s.ConfigMaps {
		if k.Namespace == ns {
			o.ConfigMaps[k.Name] = v
		}
	}
	for k, v := range s.Secrets {
		if k.Namespace == ns {
			o.Secrets[k.Name] = v
		}
	}
	for k, v := range s.Claims {
		if k.Namespace == ns {
			o.Claims[k.Name] = v
		}
	}
	return o
}

// nodeAllocatable is what resourceFieldRef reads for a limit a container
// does not set, as the kubelet's node allocatable with nothing reserved:
// the CPUs the daemon may run on, the host's memory, and the size of the
// file system holding the state directory (pods' writable layers and
// emptyDirs), 0 when it cannot be read.
func nodeAllocatable(stateDir string, memory int64) downward.Node {
	n := downward.Node{MilliCPU: int64(runtime.NumCPU()) * 1000, Memory: memory}
	var st unix.Statfs_t
	if err := unix.Statfs(stateDir, &st); err == nil {
		n.EphemeralStorage = int64(st.Blocks) * st.Bsize
	}
	return n
}
