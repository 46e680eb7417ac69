package volumes

import (
	"errors"
	"reflect"
	"testing"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/manifests"
)

func TestMounts(t *testing.T) {
	set := Set{
		"scratch": {Name: "scratch", Path: "/pods/p/empty-dir/scratch", Kind: KindEmptyDir},
		"conf":    {Name: "conf", Path: "/pods/p/configmap/conf", Kind: KindConfigMap, ReadOnly: true},
		"tls":     {Name: "tls", Path: "/pods/p/secret/tls", Kind: KindSecret, ReadOnly: true},
		"data":    {Name: "data", Path: "/srv/data", Kind: KindHostPath},
		"sock":    {Name: "sock", Path: "/run/app.sock", Kind: KindHostPath, File: true},
		"info":    {Name: "info", Path: "/pods/p/downward-api/info", Kind: KindDownwardAPI, ReadOnly: true},
	}
	owned := []string{"rbind", "rprivate", "nosuid", "nodev"}
	ownedRO := []string{"rbind", "rprivate", "ro", "nosuid", "nodev"}
	tests := []struct {
		name       string
		privileged bool
		mounts     []manifests.VolumeMount
		want       []container.Mount
		wantErr    error
	}{
		{
			name:   "emptyDir read-write",
			mounts: []manifests.VolumeMount{{Name: "scratch", MountPath: "/tmp/x"}},
			want:   []container.Mount{{Source: "/pods/p/empty-dir/scratch", Target: "/tmp/x", Type: "bind", Options: owned}},
		},
		{
			name:   "emptyDir readOnly",
			mounts: []manifests.VolumeMount{{Name: "scratch", MountPath: "/tmp/x", ReadOnly: true}},
			want:   []container.Mount{{Source: "/pods/p/empty-dir/scratch", Target: "/tmp/x", Type: "bind", Options: ownedRO}},
		},
		{
			name:   "configMap is always read-only",
			mounts: []manifests.VolumeMount{{Name: "conf", MountPath: "/etc/app"}},
			want:   []container.Mount{{Source: "/pods/p/configmap/conf", Target: "/etc/app", Type: "bind", Options: ownedRO}},
		},
		{
			name:   "secret is always read-only",
			mounts: []manifests.VolumeMount{{Name: "tls", MountPath: "/etc/tls", ReadOnly: false}},
			want:   []container.Mount{{Source: "/pods/p/secret/tls", Target: "/etc/tls", Type: "bind", Options: ownedRO}},
		},
		{
			name:   "hostPath is nodev",
			mounts: []manifests.VolumeMount{{Name: "data", MountPath: "/data"}},
			want:   []container.Mount{{Source: "/srv/data", Target: "/data", Type: "bind", Options: []string{"rbind", "rprivate", "nodev"}}},
		},
		{
			name:       "privileged hostPath keeps host flags",
			privileged: true,
			mounts:     []manifests.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "scratch", MountPath: "/scratch"}},
			want: []container.Mount{
				{Source: "/srv/data", Target: "/data", Type: "bind", Options: []string{"rbind", "rprivate"}},
				{Source: "/pods/p/empty-dir/scratch", Target: "/scratch", Type: "bind", Options: owned},
			},
		},
		{
			name:   "hostPath readOnly",
			mounts: []manifests.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}},
			want:   []container.Mount{{Source: "/srv/data", Target: "/data", Type: "bind", Options: []string{"rbind", "rprivate", "ro", "nodev"}}},
		},
		{
			name:   "file hostPath",
			mounts: []manifests.VolumeMount{{Name: "sock", MountPath: "/run/app.sock"}},
			want:   []container.Mount{{Source: "/run/app.sock", Target: "/run/app.sock", Type: "bind", Options: []string{"rbind", "rprivate", "nodev"}, File: true}},
		},
		{
			name:   "subPath carried, not resolved",
			mounts: []manifests.VolumeMount{{Name: "conf", MountPath: "/etc/app.conf", SubPath: "app.conf"}},
			want:   []container.Mount{{Source: "/pods/p/configmap/conf", Target: "/etc/app.conf", Type: "bind", Options: ownedRO, SubPath: "app.conf"}},
		},
		{
			name:   "subPath of a file hostPath leaves File to the init",
			mounts: []manifests.VolumeMount{{Name: "sock", MountPath: "/x", SubPath: "y"}},
			want:   []container.Mount{{Source: "/run/app.sock", Target: "/x", Type: "bind", Options: []string{"rbind", "rprivate", "nodev"}, SubPath: "y"}},
		},
		{
			name:   "target cleaned, propagation None accepted",
			mounts: []manifests.VolumeMount{{Name: "scratch", MountPath: "/a//b/", MountPropagation: "None"}},
			want:   []container.Mount{{Source: "/pods/p/empty-dir/scratch", Target: "/a/b", Type: "bind", Options: owned}},
		},
		{
			name: "parents before children, otherwise in order",
			mounts: []manifests.VolumeMount{
				{Name: "tls", MountPath: "/etc/app/tls"},
				{Name: "scratch", MountPath: "/scratch"},
				{Name: "conf", MountPath: "/etc/app"},
				{Name: "data", MountPath: "/data"},
			},
			want: []container.Mount{
				{Source: "/pods/p/empty-dir/scratch", Target: "/scratch", Type: "bind", Options: owned},
				{Source: "/srv/data", Target: "/data", Type: "bind", Options: []string{"rbind", "rprivate", "nodev"}},
				{Source: "/pods/p/configmap/conf", Target: "/etc/app", Type: "bind", Options: ownedRO},
				{Source: "/pods/p/secret/tls", Target: "/etc/app/tls", Type: "bind", Options: ownedRO},
			},
		},
		{
			name:    "unknown volume",
			mounts:  []manifests.VolumeMount{{Name: "nope", MountPath: "/x"}},
			wantErr: ErrUnknownVolume,
		},
		{
			name:    "relative mountPath",
			mounts:  []manifests.VolumeMount{{Name: "scratch", MountPath: "x"}},
			wantErr: ErrInvalid,
		},
		{
			name:    "subPath with ..",
			mounts:  []manifests.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "a/../../etc"}},
			wantErr: ErrInvalid,
		},
		{
			name:    "absolute subPath",
			mounts:  []manifests.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "/etc"}},
			wantErr: ErrInvalid,
		},
		{
			name:    "duplicate mountPath",
			mounts:  []manifests.VolumeMount{{Name: "scratch", MountPath: "/x"}, {Name: "conf", MountPath: "/x/"}},
			wantErr: ErrInvalid,
		},
		{
			name:    "subPathExpr not expanded",
			mounts:  []manifests.VolumeMount{{Name: "scratch", MountPath: "/x", SubPathExpr: "$(POD_NAME)"}},
			wantErr: ErrInvalid,
		},
		{
			name:   "hostToContainer propagation is a slave bind",
			mounts: []manifests.VolumeMount{{Name: "data", MountPath: "/x", MountPropagation: "HostToContainer"}},
			want:   []container.Mount{{Source: "/srv/data", Target: "/x", Type: "bind", Options: []string{"rbind", "rslave", "nodev"}}},
		},
		{
			name:   "hostToContainer on a downwardAPI volume",
			mounts: []manifests.VolumeMount{{Name: "info", MountPath: "/etc/podinfo", MountPropagation: "HostToContainer"}},
			want:   []container.Mount{{Source: "/pods/p/downward-api/info", Target: "/etc/podinfo", Type: "bind", Options: []string{"rbind", "rslave", "ro", "nosuid", "nodev"}}},
		},
		{
			name:    "bidirectional propagation needs a privileged container",
			mounts:  []manifests.VolumeMount{{Name: "data", MountPath: "/x", MountPropagation: "Bidirectional"}},
			wantErr: ErrInvalid,
		},
		{
			name:       "bidirectional propagation is a shared bind",
			privileged: true,
			mounts:     []manifests.VolumeMount{{Name: "data", MountPath: "/x", MountPropagation: "Bidirectional"}},
			want:       []container.Mount{{Source: "/srv/data", Target: "/x", Type: "bind", Options: []string{"rbind", "rshared"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &manifests.Container{Name: "app", VolumeMounts: tt.mounts}
			if tt.privileged {
				c.SecurityContext = &manifests.SecurityContext{Privileged: &tt.privileged}
			}
			got, err := Mounts(c, set)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Mounts() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Mounts() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Mounts() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestMountsNoVolumeMounts(t *testing.T) {
	got, err := Mounts(&manifests.Container{Name: "app"}, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Mounts() = %v, %v; want empty, nil", got, err)
	}
}
