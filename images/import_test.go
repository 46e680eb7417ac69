package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"), WithLimits(64<<20, 10000))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImportFormats imports a docker-save and an OCI image sharing a base
// layer, and checks layer order, contents, sharing and garbage collection.
func TestImportFormats(t *testing.T) {
	s := openStore(t)
	base := layerFromDir(t, writeTree(t, map[string]string{"etc/os-release": "base", "bin/": ""}), nil)
	app1 := layerFromDir(t, writeTree(t, map[string]string{"app/one": "1", "etc/os-release": "one"}), nil)
	app2 := layerFromDir(t, writeTree(t, map[string]string{"app/two": "2"}), nil)

	dockerImgs, err := s.Import(bytes.NewReader(dockerArchive(t, [][]byte{base, app1}, "one:v1", testConfig(t, [][]byte{base, app1}, "one"))))
	if err != nil {
		t.Fatalf("import docker-save: %v", err)
	}
	one := dockerImgs[0]
	if !reflect.DeepEqual(one.Refs, []string{"one:v1"}) || len(one.Layers) != 2 {
		t.Fatalf("docker image = %+v", one)
	}
	if got := readFile(t, filepath.Join(one.Layers[0], "etc/os-release")); got != "base" {
		t.Errorf("base layer os-release = %q", got)
	}
	if got := readFile(t, filepath.Join(one.Layers[1], "etc/os-release")); got != "one" {
		t.Errorf("top layer os-release = %q", got)
	}
	if !reflect.DeepEqual(one.Config.Cmd, []string{"one"}) || !reflect.DeepEqual(one.Config.ExposedPorts, []string{"8080/tcp"}) {
		t.Errorf("config = %+v", one.Config)
	}
	baseIno := inode(t, one.Layers[0])

	// gzip around the whole archive as well as its layers.
	ociImgs, err := s.Import(bytes.NewReader(gzipBytes(t, ociArchive(t, [][]byte{base, app2}, "docker.io/library/two:latest", testConfig(t, [][]byte{base, app2}, "two")))))
	if err != nil {
		t.Fatalf("import OCI: %v", err)
	}
	two := ociImgs[0]
	if len(two.Refs) != 2 || two.Refs[0] != "two:latest" || !strings.HasPrefix(two.Refs[1], "two@sha256:") {
		t.Fatalf("OCI refs = %v", two.Refs)
	}
	if two.Layers[0] != one.Layers[0] || inode(t, two.Layers[0]) != baseIno {
		t.Fatalf("base layer not shared: %s vs %s", two.Layers[0], one.Layers[0])
	}
	if got := readFile(t, filepath.Join(two.Layers[1], "app/two")); got != "2" {
		t.Errorf("app/two = %q", got)
	}

	manifestDigest := strings.TrimPrefix(two.Refs[1], "two@")
	for _, ref := range []string{
		"two", "library/two", "docker.io/library/two", "two:latest", "docker.io/two:latest",
		two.ID, strings.TrimPrefix(two.ID, "sha256:")[:12],
		two.Refs[1], "two:latest@" + manifestDigest, "library/two@" + manifestDigest,
	} {
		if got, err := s.Get(ref); err != nil || got.ID != two.ID {
			t.Errorf("Get(%q) = %v, %v", ref, got.ID, err)
		}
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nope) = %v", err)
	}
	if list, err := s.List(); err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}

	// Dropping one name of "two" keeps the image; dropping the last
	// removes it and its own layer, but not the shared base.
	if err := s.Remove("two:latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(two.Layers[1]); err != nil {
		t.Fatalf("layer removed while the image still has a ref: %v", err)
	}
	if err := s.Remove(two.Refs[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(two.Layers[1]); !os.IsNotExist(err) {
		t.Fatalf("unreferenced layer not collected: %v", err)
	}
	if _, err := os.Stat(one.Layers[0]); err != nil {
		t.Fatalf("shared base layer collected: %v", err)
	}
	if err := s.Remove(one.ID); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(s.Root(), "layers"))
	imgs, _ := os.ReadDir(filepath.Join(s.Root(), "images"))
	if len(ents) != 0 || len(imgs) != 0 {
		t.Fatalf("store not empty after removing everything: %v %v", ents, imgs)
	}
}

func TestImportCorrupt(t *testing.T) {
	layer := layerFromDir(t, writeTree(t, map[string]string{"f": "content"}), nil)
	cfg := testConfig(t, [][]byte{layer}, "x")
	tests := []struct {
		name    string
		archive func() []byte
		want    error
	}{
		{"oci-blob-digest", func() []byte {
			// Flip a byte of the compressed layer blob.
			a := ociArchive(t, [][]byte{layer}, "x:1", cfg)
			gz := gzipBytes(t, layer)
			i := bytes.Index(a, gz)
			a[i+len(gz)/2] ^= 0xff
			return a
		}, ErrDigestMismatch},
		{"docker-diff-id", func() []byte {
			other := layerFromDir(t, writeTree(t, map[string]string{"f": "other"}), nil)
			return dockerArchive(t, [][]byte{other}, "x:1", cfg)
		}, ErrDigestMismatch},
		{"docker-config-name", func() []byte {
			// The config is stored under a digest name it does not hash to.
			name := strings.Repeat("0", 64) + ".json"
			m, _ := json.Marshal([]dockerManifest{{Config: name, RepoTags: []string{"x:1"}, Layers: []string{"l.tar"}}})
			return archive(t, []entry{{name: name, body: string(cfg)}, {name: "l.tar", body: string(layer)}, {name: "manifest.json", body: string(m)}})
		}, ErrDigestMismatch},
		{"docker-named-layer-blob", func() []byte {
			// Docker 25+ names layers by digest; this one does not match.
			other := layerFromDir(t, writeTree(t, map[string]string{"f": "other"}), nil)
			name := "blobs/sha256/" + digest.FromBytes(layer).Encoded()
			cfgName := "blobs/sha256/" + digest.FromBytes(cfg).Encoded()
			m, _ := json.Marshal([]dockerManifest{{Config: cfgName, RepoTags: []string{"x:1"}, Layers: []string{name}}})
			return archive(t, []entry{{name: cfgName, body: string(cfg)}, {name: name, body: string(other)}, {name: "manifest.json", body: string(m)}})
		}, ErrDigestMismatch},
		{"not-an-image", func() []byte { return buildTar(t, []entry{{name: "hello", body: "x"}}) }, ErrInvalidImage},
		{"layer-escape", func() []byte {
			bad := buildTar(t, []entry{{name: "../../evil", body: "x"}})
			return dockerArchive(t, [][]byte{bad}, "x:1", testConfig(t, [][]byte{bad}, "x"))
		}, ErrUnsafeEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			if _, err := s.Import(bytes.NewReader(tt.archive())); !errors.Is(err, tt.want) {
				t.Fatalf("Import error = %v, want %v", err, tt.want)
			}
			if list, _ := s.List(); len(list) != 0 {
				t.Fatalf("failed import left images: %v", list)
			}
			for _, d := range []string{"tmp", "blobs/sha256", "layers"} {
				if ents, _ := os.ReadDir(filepath.Join(s.Root(), d)); len(ents) != 0 {
					t.Fatalf("failed import left %s: %v", d, ents)
				}
			}
		})
	}
}

func TestImportRootfsAndStaleTemps(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.ImportRootfs(writeTree(t, map[string]string{"bin/app": "x", "etc/": ""}), "docker.io/library/app")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(img.Refs, []string{"app:latest"}) || readFile(t, filepath.Join(img.Layers[0], "bin/app")) != "x" {
		t.Fatalf("image = %+v", img)
	}
	if _, err := s.ImportRootfs(writeTree(t, map[string]string{".wh.x": ""}), "bad"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("whiteout name in rootfs: %v", err)
	}
	// A crashed import's work dir is removed by the next Open.
	stale := filepath.Join(root, "tmp", "crashed")
	if err := os.MkdirAll(filepath.Join(stale, "layer"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale work dir survived Open: %v", err)
	}
	if got, err := s.Get("app"); err != nil || got.ID != img.ID {
		t.Fatalf("Get after reopen: %v %v", got.ID, err)
	}
}

// TestStoreIsPrivate: the store root is 0700 even when it existed with
// wider permissions, so no container (nor another user) can reach the
// layers, and imports unpack into 0700 work dirs inside it.
func TestStoreIsPrivate(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", "images", "layers", "blobs", "blobs/sha256", "tmp"} {
		st, err := os.Stat(filepath.Join(root, d))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s/%s has mode %v, want 0700", root, d, st.Mode().Perm())
		}
	}
	w, err := s.newWorkDir()
	if err != nil {
		t.Fatal(err)
	}
	defer w.remove()
	st, err := os.Stat(w.path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("work dir %s has mode %v, want 0700", w.path, st.Mode().Perm())
	}
}
