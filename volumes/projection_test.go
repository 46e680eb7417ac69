package volumes

import (
	"errors"
	"io/fs"
	"reflect"
	"testing"

	"github.com/berth-project/berth/manifests"
)

func i32(v int32) *int32 { return &v }
func yes() *bool         { b := true; return &b }

func TestConfigMapPayload(t *testing.T) {
	cm := &manifests.ConfigMap{
		Data:       map[string]string{"a.conf": "A", "b.conf": "B"},
		BinaryData: map[string][]byte{"blob": {0, 1, 2}},
	}
	tests := []struct {
		name    string
		src     manifests.ConfigMapVolumeSource
		cm      *manifests.ConfigMap
		want    payload
		wantErr error
	}{
		{
			name: "all keys, data and binaryData, default mode",
			src:  manifests.ConfigMapVolumeSource{Name: "c"},
			cm:   cm,
			want: payload{"a.conf": {[]byte("A"), 0o644}, "b.conf": {[]byte("B"), 0o644}, "blob": {[]byte{0, 1, 2}, 0o644}},
		},
		{
			name: "defaultMode",
			src:  manifests.ConfigMapVolumeSource{Name: "c", DefaultMode: i32(0o400)},
			cm:   &manifests.ConfigMap{Data: map[string]string{"k": "v"}},
			want: payload{"k": {[]byte("v"), 0o400}},
		},
		{
			name: "items select keys, nested paths, per-item mode",
			src: manifests.ConfigMapVolumeSource{Name: "c", DefaultMode: i32(0o600), Items: []manifests.KeyToPath{
				{Key: "a.conf", Path: "etc/a"},
				{Key: "blob", Path: "bin/blob", Mode: i32(0o755)},
			}},
			cm:   cm,
			want: payload{"etc/a": {[]byte("A"), 0o600}, "bin/blob": {[]byte{0, 1, 2}, 0o755}},
		},
		{
			name:    "missing configMap",
			src:     manifests.ConfigMapVolumeSource{Name: "c"},
			wantErr: ErrNotFound,
		},
		{
			name: "missing optional configMap is empty",
			src:  manifests.ConfigMapVolumeSource{Name: "c", Optional: yes()},
			want: payload{},
		},
		{
			name:    "missing key",
			src:     manifests.ConfigMapVolumeSource{Name: "c", Items: []manifests.KeyToPath{{Key: "nope", Path: "x"}}},
			cm:      cm,
			wantErr: ErrNotFound,
		},
		{
			name: "missing key of optional configMap is skipped",
			src: manifests.ConfigMapVolumeSource{Name: "c", Optional: yes(), Items: []manifests.KeyToPath{
				{Key: "nope", Path: "x"}, {Key: "a.conf", Path: "a"},
			}},
			cm:   cm,
			want: payload{"a": {[]byte("A"), 0o644}},
		},
		{
			name:    "item path escapes",
			src:     manifests.ConfigMapVolumeSource{Name: "c", Items: []manifests.KeyToPath{{Key: "a.conf", Path: "../x"}}},
			cm:      cm,
			wantErr: ErrInvalid,
		},
		{
			name:    "item path absolute",
			src:     manifests.ConfigMapVolumeSource{Name: "c", Items: []manifests.KeyToPath{{Key: "a.conf", Path: "/etc/x"}}},
			cm:      cm,
			wantErr: ErrInvalid,
		},
		{
			name:    "item path takes the writer's name",
			src:     manifests.ConfigMapVolumeSource{Name: "c", Items: []manifests.KeyToPath{{Key: "a.conf", Path: "..data"}}},
			cm:      cm,
			wantErr: ErrInvalid,
		},
		{
			name: "item path is a file and a directory",
			src: manifests.ConfigMapVolumeSource{Name: "c", Items: []manifests.KeyToPath{
				{Key: "a.conf", Path: "x"}, {Key: "b.conf", Path: "x/y"},
			}},
			cm:      cm,
			wantErr: ErrInvalid,
		},
		{
			name: "item path used twice",
			src: manifests.ConfigMapVolumeSource{Name: "c", Items: []manifests.KeyToPath{
				{Key: "a.conf", Path: "x"}, {Key: "b.conf", Path: "x"},
			}},
			cm:      cm,
			wantErr: ErrInvalid,
		},
		{
			name:    "key with a slash",
			src:     manifests.ConfigMapVolumeSource{Name: "c"},
			cm:      &manifests.ConfigMap{Data: map[string]string{"a/b": "x"}},
			wantErr: ErrInvalid,
		},
		{
			name:    "key ..data",
			src:     manifests.ConfigMapVolumeSource{Name: "c"},
			cm:      &manifests.ConfigMap{Data: map[string]string{"..data": "x"}},
			wantErr: ErrInvalid,
		},
		{
			name:    "mode too big",
			src:     manifests.ConfigMapVolumeSource{Name: "c", DefaultMode: i32(0o4755)},
			cm:      cm,
			wantErr: ErrInvalid,
		},
		{
			name:    "negative item mode",
			src:     manifests.ConfigMapVolumeSource{Name: "c", Items: []manifests.KeyToPath{{Key: "a.conf", Path: "a", Mode: i32(-1)}}},
			cm:      cm,
			wantErr: ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configMapPayload(&tt.src, tt.cm)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("configMapPayload() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("configMapPayload() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("configMapPayload() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSecretPayload(t *testing.T) {
	s := &manifests.Secret{
		Data:       map[string][]byte{"user": []byte("u"), "pass": []byte("old")},
		StringData: map[string]string{"pass": "new"},
	}
	got, err := secretPayload(&manifests.SecretVolumeSource{SecretName: "s", DefaultMode: i32(0o400)}, s)
	if err != nil {
		t.Fatal(err)
	}
	want := payload{"user": {[]byte("u"), 0o400}, "pass": {[]byte("new"), 0o400}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("secretPayload() = %v, want %v", got, want)
	}
	if _, err := secretPayload(&manifests.SecretVolumeSource{SecretName: "s"}, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("secretPayload() of a missing secret: error = %v, want ErrNotFound", err)
	}
	if got, err := secretPayload(&manifests.SecretVolumeSource{SecretName: "s", Optional: yes()}, nil); err != nil || len(got) != 0 {
		t.Errorf("secretPayload() of a missing optional secret = %v, %v; want an empty payload", got, err)
	}
}

func TestSecretTmpfsSize(t *testing.T) {
	p := payload{"a": {data: make([]byte, 1)}, "b": {data: make([]byte, 4097)}, "empty": {}}
	// 1 page + 2 pages, twice, plus 1 MiB.
	if got, want := secretTmpfsSize(p, 4096), int64(2*3*4096+1<<20); got != want {
		t.Errorf("secretTmpfsSize() = %d, want %d", got, want)
	}
}

func TestPlanEmptyDir(t *testing.T) {
	q := func(s string) *manifests.Quantity { v := manifests.MustParseQuantity(s); return &v }
	tests := []struct {
		name    string
		src     manifests.EmptyDirVolumeSource
		want    emptyDirPlan
		wantErr error
	}{
		{name: "disk", want: emptyDirPlan{}},
		{name: "memory, tmpfs default size", src: manifests.EmptyDirVolumeSource{Medium: "Memory"},
			want: emptyDirPlan{tmpfs: true, tmpfsData: "mode=1777"}},
		{name: "memory with sizeLimit", src: manifests.EmptyDirVolumeSource{Medium: "Memory", SizeLimit: q("64Mi")},
			want: emptyDirPlan{tmpfs: true, tmpfsData: "mode=1777,size=67108864"}},
		{name: "memory sizeLimit 0 would be unlimited", src: manifests.EmptyDirVolumeSource{Medium: "Memory", SizeLimit: q("0")},
			wantErr: ErrInvalid},
		{name: "disk sizeLimit", src: manifests.EmptyDirVolumeSource{SizeLimit: q("1Gi")}, wantErr: ErrNotSupported},
		{name: "hugepages", src: manifests.EmptyDirVolumeSource{Medium: "HugePages-2Mi"}, wantErr: ErrNotSupported},
		{name: "unknown medium", src: manifests.EmptyDirVolumeSource{Medium: "Disk"}, wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planEmptyDir(&tt.src)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("planEmptyDir() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("planEmptyDir() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestFileTypeOf(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		want string
	}{
		{fs.ModeDir | 0o755, typeDirectory},
		{0o644, typeFile},
		{fs.ModeSocket | 0o777, typeSocket},
		{fs.ModeDevice | fs.ModeCharDevice | 0o666, typeCharDevice},
		{fs.ModeDevice | 0o660, typeBlockDevice},
		{fs.ModeSymlink | 0o777, "symlink"},
		{fs.ModeNamedPipe | 0o600, "named pipe"},
	}
	for _, tt := range tests {
		if got := fileTypeOf(tt.mode); got != tt.want {
			t.Errorf("fileTypeOf(%v) = %q, want %q", tt.mode, got, tt.want)
		}
	}
}
