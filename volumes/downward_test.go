package volumes

import (
	"errors"
	"reflect"
	"testing"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

func downwardPod() downward.Pod {
	mem := manifests.MustParseQuantity("64Mi")
	return downward.Pod{UID: "u-1", Node: downward.Node{MilliCPU: 2000, Memory: 1 << 30}, Pod: &manifests.Pod{
		ObjectMeta: manifests.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: manifests.PodSpec{Containers: []manifests.Container{{Name: "app", Resources: manifests.ResourceRequirements{
			Limits: map[string]manifests.Quantity{"memory": mem},
		}}}},
	}}
}

func fieldItem(path, field string, mode *int32) manifests.DownwardAPIVolumeFile {
	return manifests.DownwardAPIVolumeFile{Path: path, FieldRef: &manifests.ObjectFieldSelector{FieldPath: field}, Mode: mode}
}

func TestDownwardAPIPayload(t *testing.T) {
	mi := manifests.MustParseQuantity("1Mi")
	tests := []struct {
		name    string
		src     manifests.DownwardAPIVolumeSource
		want    payload
		wantErr error
	}{
		{
			name: "fields and resources, modes",
			src: manifests.DownwardAPIVolumeSource{DefaultMode: i32(0o600), Items: []manifests.DownwardAPIVolumeFile{
				fieldItem("name", "metadata.name", nil),
				fieldItem("meta/labels", "metadata.labels", i32(0o444)),
				fieldItem("uid", "metadata.uid", nil),
				{Path: "mem", ResourceFieldRef: &manifests.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: &mi}},
				{Path: "cpu", ResourceFieldRef: &manifests.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu"}},
			}},
			want: payload{
				"name": {[]byte("web"), 0o600}, "meta/labels": {[]byte(`app="web"`), 0o444}, "uid": {[]byte("u-1"), 0o600},
				"mem": {[]byte("64"), 0o600}, "cpu": {[]byte("2"), 0o600},
			},
		},
		{
			name: "default mode 0644",
			src:  manifests.DownwardAPIVolumeSource{Items: []manifests.DownwardAPIVolumeFile{fieldItem("ns", "metadata.namespace", nil)}},
			want: payload{"ns": {[]byte("shop"), 0o644}},
		},
		{
			name:    "field a volume cannot hold",
			src:     manifests.DownwardAPIVolumeSource{Items: []manifests.DownwardAPIVolumeFile{fieldItem("ip", "status.podIP", nil)}},
			wantErr: downward.ErrInvalid,
		},
		{
			name:    "path escaping the volume",
			src:     manifests.DownwardAPIVolumeSource{Items: []manifests.DownwardAPIVolumeFile{fieldItem("../x", "metadata.name", nil)}},
			wantErr: ErrInvalid,
		},
		{
			name: "path twice",
			src: manifests.DownwardAPIVolumeSource{Items: []manifests.DownwardAPIVolumeFile{
				fieldItem("x", "metadata.name", nil), fieldItem("x", "metadata.uid", nil),
			}},
			wantErr: ErrInvalid,
		},
		{
			name: "file and directory",
			src: manifests.DownwardAPIVolumeSource{Items: []manifests.DownwardAPIVolumeFile{
				fieldItem("x", "metadata.name", nil), fieldItem("x/y", "metadata.uid", nil),
			}},
			wantErr: ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := downwardAPIPayload(&tt.src, downwardPod())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("downwardAPIPayload() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestProjectedPayload(t *testing.T) {
	cms := map[string]*manifests.ConfigMap{"cfg": {Data: map[string]string{"app.conf": "A", "other": "O"}}}
	secrets := map[string]*manifests.Secret{"creds": {Data: map[string][]byte{"token": []byte("T")}}}
	tests := []struct {
		name    string
		src     manifests.ProjectedVolumeSource
		want    payload
		wantErr error
	}{
		{
			name: "configMap, secret and downwardAPI with the volume's defaultMode",
			src: manifests.ProjectedVolumeSource{DefaultMode: i32(0o440), Sources: []manifests.VolumeProjection{
				{ConfigMap: &manifests.ConfigMapProjection{Name: "cfg", Items: []manifests.KeyToPath{{Key: "app.conf", Path: "conf/app.conf"}}}},
				{Secret: &manifests.SecretProjection{Name: "creds", Items: []manifests.KeyToPath{{Key: "token", Path: "token", Mode: i32(0o400)}}}},
				{DownwardAPI: &manifests.DownwardAPIProjection{Items: []manifests.DownwardAPIVolumeFile{fieldItem("labels", "metadata.labels", nil)}}},
			}},
			want: payload{
				"conf/app.conf": {[]byte("A"), 0o440}, "token": {[]byte("T"), 0o400}, "labels": {[]byte(`app="web"`), 0o440},
			},
		},
		{
			name: "a configMap without items, and a missing optional secret",
			src: manifests.ProjectedVolumeSource{Sources: []manifests.VolumeProjection{
				{ConfigMap: &manifests.ConfigMapProjection{Name: "cfg"}},
				{Secret: &manifests.SecretProjection{Name: "nope", Optional: yes()}},
			}},
			want: payload{"app.conf": {[]byte("A"), 0o644}, "other": {[]byte("O"), 0o644}},
		},
		{
			name: "a missing secret",
			src: manifests.ProjectedVolumeSource{Sources: []manifests.VolumeProjection{
				{Secret: &manifests.SecretProjection{Name: "nope"}},
			}},
			wantErr: ErrNotFound,
		},
		{
			name: "two sources write one path",
			src: manifests.ProjectedVolumeSource{Sources: []manifests.VolumeProjection{
				{ConfigMap: &manifests.ConfigMapProjection{Name: "cfg", Items: []manifests.KeyToPath{{Key: "other", Path: "x"}}}},
				{DownwardAPI: &manifests.DownwardAPIProjection{Items: []manifests.DownwardAPIVolumeFile{fieldItem("x", "metadata.name", nil)}}},
			}},
			wantErr: ErrInvalid,
		},
		{
			name:    "an empty source",
			src:     manifests.ProjectedVolumeSource{Sources: []manifests.VolumeProjection{{}}},
			wantErr: ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := projectedPayload(&tt.src, downwardPod(), cms, secrets)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("projectedPayload() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
