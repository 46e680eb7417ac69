package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-project/berth/internal/hostclean"
)

// The pulled image: pullLayers layers of pullLayerBytes of random
// (incompressible) data each.
const (
	pullLayers     = 6
	pullLayerBytes = 20 << 20
)

// pullScenarios measure a cold pull of a multi-layer image from a registry
// in this process on 127.0.0.1: `berth image pull` into an empty store vs
// `podman pull --tls-verify=false` into an empty storage root, interleaved,
// each to its image unpacked and ready to run. pull-rss is the peak RSS of
// each process (getrusage's ru_maxrss).
func (bn *bench) pullScenarios() ([]*Scenario, error) {
	ref, size, stop, err := serveBenchImage()
	if err != nil {
		return nil, err
	}
	defer stop()
	wall := &Scenario{Name: "pull", Unit: "ms"}
	rss := &Scenario{Name: "pull-rss", Unit: "MB"}
	wall.note("image_bytes", size)
	wall.note("layers", pullLayers)
	for i := 0; i < bn.warmup+bn.n; i++ {
		keep := i >= bn.warmup
		t, maxRSS, err := bn.berthPull(ref)
		if err != nil {
			return nil, err
		}
		if keep {
			wall.add("berth", t)
			rss.add("berth", maxRSS)
		}
		if bn.p == nil {
			continue
		}
		t, maxRSS, err = bn.podmanPull(ref)
		if err != nil {
			return nil, err
		}
		if keep {
			wall.add("podman", t)
			rss.add("podman", maxRSS)
		}
	}
	return []*Scenario{wall, rss}, nil
}

// berthPull pulls ref into a new, empty state directory.
func (bn *bench) berthPull(ref string) (ms, maxRSS float64, err error) {
	dir, err := os.MkdirTemp("", "berth-bench-pull-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	return timedRSS(exec.Command(bn.e.berthBin, "image", "pull", "--state-dir", dir, ref))
}

// podmanPull pulls ref into a new, empty podman storage root.
func (bn *bench) podmanPull(ref string) (ms, maxRSS float64, err error) {
	dir, err := os.MkdirTemp("", "berth-bench-podman-pull-")
	if err != nil {
		return 0, 0, err
	}
	defer hostclean.Remove(hostclean.Daemon{Dir: dir})
	base := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	cmd := exec.Command("podman", append(base, "pull", "--quiet", "--tls-verify=false", ref)...)
	cmd.Env = append(os.Environ(), bn.p.env...)
	ms, maxRSS, err = timedRSS(cmd)
	exec.Command("podman", append(base, "rmi", "-a", "-f")...).Run()
	return ms, maxRSS, err
}

// timedRSS runs cmd and returns its wall time in ms and its peak RSS in
// MB: the VmHWM of its /proc/PID/status, read every rssPoll until it
// exits. (getrusage's ru_maxrss would not do: a child of this process
// starts on its parent's memory, which holds the whole image, and the
// kernel carries that high-water mark across exec.)
func timedRSS(cmd *exec.Cmd) (ms, maxRSS float64, err error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var hwm int64
	tick := time.NewTicker(rssPoll)
	defer tick.Stop()
	for {
		if b, rerr := os.ReadFile(status); rerr == nil {
			if kB, ok := parseVmHWM(string(b)); ok {
				hwm = max(hwm, kB)
			}
		}
		select {
		case err = <-done:
			d := time.Since(start)
			if err != nil {
				return 0, 0, fmt.Errorf("%s: %w: %s", cmd.Args, err, tail(out.String(), 20))
			}
			if hwm == 0 {
				return 0, 0, errors.New("no VmHWM read before the process ended")
			}
			return float64(d) / float64(time.Millisecond), float64(hwm) / 1024, nil
		case <-tick.C:
		}
	}
}

// rssPoll is how often a pull's peak RSS is read.
const rssPoll = 10 * time.Millisecond

// serveBenchImage generates the image, serves it from a registry on
// 127.0.0.1 and returns its reference, its compressed size and a stop
// function.
func serveBenchImage() (ref string, size int64, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	srv := &http.Server{Handler: ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	stop = func() { srv.Close() }
	img, err := benchImage()
	if err != nil {
		stop()
		return "", 0, nil, err
	}
	ref = l.Addr().String() + "/bench/multilayer:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		stop()
		return "", 0, nil, err
	}
	if err := remote.Write(r, img); err != nil {
		stop()
		return "", 0, nil, fmt.Errorf("push the pull scenario's image: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		stop()
		return "", 0, nil, err
	}
	for _, la := range layers {
		n, err := la.Size()
		if err != nil {
			stop()
			return "", 0, nil, err
		}
		size += n
	}
	return ref, size, stop, nil
}

// benchImage builds pullLayers gzip layers of one random file each.
func benchImage() (v1.Image, error) {
	img := empty.Image
	for i := range pullLayers {
		var raw bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&raw, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/layer%d", i), Mode: 0o644, Size: pullLayerBytes, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := io.CopyN(tw, rand.Reader, pullLayerBytes); err != nil {
			return nil, err
		}
		if err := tw.Close(); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		b := raw.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Cmd = []string{"/data/layer0"}
	return mutate.ConfigFile(img, cf)
}
