package container

import (
	"testing"
	"time"

	"github.com/berth-project/berth/kube"
)

func TestTimings(t *testing.T) {
	ms := int64(time.Millisecond)
	tests := []struct {
		name               string
		forked, execd, eof int64
		p                  progress
		want               kube.StartTimings
	}{
		{
			name: "in order", forked: 100 * ms, execd: 101 * ms, eof: 110 * ms,
			p:    progress{Main: 102 * ms, Cgroups: 103 * ms, Rootfs: 106 * ms, Exec: 108 * ms},
			want: kube.StartTimings{Clone: time.Millisecond, Runtime: time.Millisecond, Cgroups: time.Millisecond, Rootfs: 3 * time.Millisecond, Setup: 2 * time.Millisecond, Exec: 2 * time.Millisecond},
		},
		{
			name: "no progress record", forked: 100 * ms, execd: 101 * ms, eof: 110 * ms,
			want: kube.StartTimings{Clone: time.Millisecond},
		},
		{
			name: "clock out of order", forked: 100 * ms, execd: 99 * ms, eof: 110 * ms,
			p:    progress{Main: 102 * ms, Cgroups: 103 * ms, Rootfs: 106 * ms, Exec: 108 * ms},
			want: kube.StartTimings{Runtime: 3 * time.Millisecond, Cgroups: time.Millisecond, Rootfs: 3 * time.Millisecond, Setup: 2 * time.Millisecond, Exec: 2 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := timings(tt.forked, tt.execd, tt.eof, tt.p)
			if got != tt.want {
				t.Errorf("timings = %+v, want %+v", got, tt.want)
			}
			if got.Total() != got.Clone+got.Runtime+got.Cgroups+got.Rootfs+got.Setup+got.Exec {
				t.Errorf("Total %v is not the sum", got.Total())
			}
		})
	}
}
