package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/internal/hostclean"
)

// podman drives the comparison peer on private storage (--root, --runroot)
// and a private containers.conf (CONTAINERS_CONF): the host's podman
// configuration and images are never touched. containersConf says why
// each setting is there.
type podman struct {
	dir     string
	env     []string
	base    []string
	version string
	runtime string
	// bridgeExisted: podman0 was there before, so cleanup leaves it.
	bridgeExisted bool
	// undoCgroups unmounts what newPodman mounted for crun (nil: nothing).
	undoCgroups func()
}

func newPodman(e *env, runtime string) (*podman, error) {
	dir, err := os.MkdirTemp("", "berth-bench-podman-")
	if err != nil {
		return nil, err
	}
	p := &podman{dir: dir, runtime: runtime}
	if runtime == "crun" {
		if p.undoCgroups, err = hugetlbForCrun(cgroupRoot); err != nil {
			p.cleanup()
			return nil, err
		}
	}
	_, err = netlink.LinkByName("podman0")
	p.bridgeExisted = err == nil
	conf := filepath.Join(dir, "containers.conf")
	if err := os.WriteFile(conf, []byte(containersConf(runtime, hardLimit(syscall.RLIMIT_NOFILE), hardLimit(unixRlimitNproc))), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", conf, err)
	}
	p.env = []string{"CONTAINERS_CONF=" + conf}
	p.base = []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	v, err := p.cmd("version", "--format", "{{.Client.Version}}")
	if err != nil {
		p.cleanup()
		return nil, err
	}
	p.version = strings.TrimSpace(v)
	if _, err := p.cmd("import", e.rootfsTar, imageRef); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("import workload into podman: %w", err)
	}
	return p, nil
}

// unixRlimitNproc is RLIMIT_NPROC (not in package syscall on every arch).
const unixRlimitNproc = 6

// containersConf clamps podman's default ulimits to what this host allows
// (as root it asks for 1048576, which a host without CAP_SYS_RESOURCE or
// with a lower hard limit refuses; nproc at the hard limit was refused too,
// 32768 works), selects the OCI runtime and netavark (podman's own network
// stack, its fastest; CNI is the other), cgroupfs and a file event log,
// because the host may have no systemd.
func containersConf(runtime string, nofile, nproc uint64) string {
	nofile = min(nofile, 1048576)
	nproc = min(nproc, 32768)
	return fmt.Sprintf("[containers]\ndefault_ulimits = [\"nofile=%d:%d\", \"nproc=%d:%d\"]\n\n[engine]\nruntime = %q\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\n[network]\nnetwork_backend = \"netavark\"\n",
		nofile, nofile, nproc, nproc, runtime)
}

func hardLimit(resource int) uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(resource, &l); err != nil {
		return 1024
	}
	return l.Max
}

func (p *podman) cmd(args ...string) (string, error) {
	return runEnv(p.env, "podman", append(append([]string{}, p.base...), args...)...)
}

func (p *podman) timed(args ...string) (float64, error) {
	return timed(p.env, "podman", append(append([]string{}, p.base...), args...)...)
}

// restartTimes returns a container's restart count and the gap between
// its last exit and its current start, in milliseconds.
func (p *podman) restartTimes(ctr string) (int, float64, error) {
	out, err := p.cmd("inspect", "--format", "{{.RestartCount}} {{.State.StartedAt.UnixNano}} {{.State.FinishedAt.UnixNano}} {{.State.Running}}", ctr)
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(out)
	if len(f) != 4 {
		return 0, 0, fmt.Errorf("podman inspect %s: unexpected %q", ctr, out)
	}
	count, _ := strconv.Atoi(f[0])
	started, _ := strconv.ParseInt(f[1], 10, 64)
	finished, _ := strconv.ParseInt(f[2], 10, 64)
	if f[3] != "true" || finished <= 0 || started < finished {
		return count, -1, nil
	}
	return count, float64(started-finished) / 1e6, nil
}

// cleanup removes every pod podman made in its private root, its storage
// and, if podman created it during the run, its bridge.
func (p *podman) cleanup() {
	p.cmd("pod", "rm", "-a", "-f", "-t", "0")
	p.cmd("rm", "-a", "-f", "-t", "0")
	p.cmd("rmi", "-a", "-f")
	hostclean.Remove(hostclean.Daemon{Dir: p.dir})
	if p.undoCgroups != nil {
		p.undoCgroups()
	}
	if !p.bridgeExisted {
		if l, err := netlink.LinkByName("podman0"); err == nil {
			netlink.LinkDel(l)
		}
	}
}
