package pod

import (
	"syscall"
	"testing"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/manifests"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"SIGUSR1": syscall.SIGUSR1, "usr2": syscall.SIGUSR2, "SIGINT": syscall.SIGINT, "15": syscall.SIGTERM,
		"SIGRTMIN": 34, "SIGRTMIN+1": 35, "RTMAX-14": 50, "SIGRTMAX": 64, "SIGQUIT": syscall.SIGQUIT,
		"SIGNOPE": 0, "0": 0, "65": 0, "SIGRTMIN+31": 0, "SIGRTMIN-1": 0, "SIGRTMAX+1": 0, "": 0,
	} {
		got, err := parseSignal(in)
		if got != want || (err == nil) != (want != 0) {
			t.Errorf("parseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestStopSignal(t *testing.T) {
	str := func(s string) *string { return &s }
	withStop := &manifests.Container{Lifecycle: &manifests.Lifecycle{StopSignal: str("SIGUSR1")}}
	imgQuit := images.Image{Config: images.ImageConfig{StopSignal: "SIGQUIT"}}
	for _, tt := range []struct {
		name string
		c    *manifests.Container
		img  images.Image
		want syscall.Signal
		err  bool
	}{
		{"default", &manifests.Container{}, images.Image{}, 0, false},
		{"the image's", &manifests.Container{}, imgQuit, syscall.SIGQUIT, false},
		{"stopSignal over the image's", withStop, imgQuit, syscall.SIGUSR1, false},
		{"hooks but no stopSignal", &manifests.Container{Lifecycle: &manifests.Lifecycle{}}, imgQuit, syscall.SIGQUIT, false},
		{"a bad image signal", &manifests.Container{}, images.Image{Config: images.ImageConfig{StopSignal: "SIGFOO"}}, 0, true},
	} {
		got, err := stopSignal(tt.c, tt.img)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%s: stopSignal = %d, %v; want %d (error %v)", tt.name, got, err, tt.want, tt.err)
		}
	}
}
