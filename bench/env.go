package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// imageRef is the workload image's name in both berth's and podman's
// stores. Not ":latest", so podman's pull policy is IfNotPresent and it
// never tries a registry.
const imageRef = "localhost/berth-bench:v1"

// env is what every scenario shares: the built binaries and the workload
// rootfs, all under one temporary directory.
type env struct {
	dir       string
	berthBin  string
	demoBin   string
	rootfs    string
	rootfsTar string
	log       *slog.Logger
}

// newEnv builds berth and the demo workload from the module at repo into
// dir, and lays out the workload's rootfs (the same files as `make
// demo-image`) plus a tar of it for `podman import`.
// A non-empty berthBin is used as it is instead of building cmd/berth.
func newEnv(repo, dir, berthBin string, log *slog.Logger) (*env, error) {
	e := &env{
		dir: dir, log: log,
		berthBin: filepath.Join(dir, "berth"), demoBin: filepath.Join(dir, "rootfs", "bin", "demo"),
		rootfs: filepath.Join(dir, "rootfs"), rootfsTar: filepath.Join(dir, "rootfs.tar"),
	}
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "shared"} {
		if err := os.MkdirAll(filepath.Join(e.rootfs, d), 0o755); err != nil {
			return nil, fmt.Errorf("workload rootfs: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(e.rootfs, "tmp"), 0o777|os.ModeSticky); err != nil {
		return nil, fmt.Errorf("workload rootfs: %w", err)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/demo\nnobody:x:65534:65534:nobody:/:/bin/demo\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(e.rootfs, name), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("workload rootfs: %w", err)
		}
	}
	start := time.Now()
	if berthBin != "" {
		e.berthBin = berthBin
	} else if err := buildBerth(repo, e.berthBin); err != nil {
		return nil, err
	}
	if err := goBuild(repo, e.demoBin, "./examples/demo"); err != nil {
		return nil, err
	}
	if _, err := run("tar", "-C", e.rootfs, "-cf", e.rootfsTar, "."); err != nil {
		return nil, fmt.Errorf("tar workload rootfs: %w", err)
	}
	log.Info("built berth and the workload", "dir", dir, "took", time.Since(start).Round(time.Millisecond))
	return e, nil
}

// buildBerth builds berth as `make build` does: with hack/build, which
// makes the lean CLI users run, with the full build (the daemon) and the
// lean init binary the pods' infra processes run embedded.
func buildBerth(repo, out string) error {
	cmd := exec.Command("bash", "hack/build", out, "-trimpath", "-ldflags", "-s -w")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hack/build berth: %w\n%s", err, b)
	}
	return nil
}

func goBuild(repo, out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// run runs a command and returns its standard output; the error carries
// standard error.
func run(name string, args ...string) (string, error) {
	return runEnv(nil, name, args...)
}

func runEnv(extraEnv []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()+" "+out.String()))
	}
	return out.String(), nil
}

// timed runs a command and returns its wall time in milliseconds.
func timed(extraEnv []string, name string, args ...string) (float64, error) {
	start := time.Now()
	_, err := runEnv(extraEnv, name, args...)
	return ms(time.Since(start)), err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ensurePackages installs Debian packages whose command is missing and
// returns how long that took (zero when nothing was missing).
func ensurePackages(log *slog.Logger, cmdToPkg map[string]string) (time.Duration, error) {
	var missing []string
	for cmd, pkg := range cmdToPkg {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return 0, nil
	}
	log.Info("installing packages", "packages", missing)
	start := time.Now()
	if _, err := runEnv([]string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", append([]string{"install", "-y"}, missing...)...); err != nil {
		return 0, fmt.Errorf("install %v: %w", missing, err)
	}
	return time.Since(start), nil
}
