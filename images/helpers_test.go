package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// entry is one tar entry for hand-built (often hostile) layers.
type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func buildTar(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: mode, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)[:hdr.Size]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerFromDir packs dir with the production packer and appends extra
// entries (whiteouts, which a directory cannot express).
func layerFromDir(t testing.TB, dir string, extra []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := packDir(tw, dir); err != nil {
		t.Fatal(err)
	}
	for _, e := range extra {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeTree creates files (name -> content; a trailing "/" makes a dir).
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if name[len(name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archive builds an outer tarball from name -> content.
func archive(t testing.TB, files []entry) []byte {
	t.Helper()
	return buildTar(t, files)
}

func testConfig(t testing.TB, layers [][]byte, cmd string) []byte {
	t.Helper()
	cfg := ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		RootFS:   ocispec.RootFS{Type: "layers"},
		Config: ocispec.ImageConfig{
			Cmd:          []string{cmd},
			Env:          []string{"PATH=/bin"},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		},
	}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(l))
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dockerArchive wraps uncompressed layers in docker save's legacy format.
func dockerArchive(t testing.TB, layers [][]byte, tag string, cfg []byte) []byte {
	t.Helper()
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	files := []entry{{name: cfgName, body: string(cfg)}}
	m := dockerManifest{Config: cfgName, RepoTags: []string{tag}}
	for i, l := range layers {
		name := fmt.Sprintf("layer%d/layer.tar", i)
		files = append(files, entry{name: name, body: string(l)})
		m.Layers = append(m.Layers, name)
	}
	mb, _ := json.Marshal([]dockerManifest{m})
	files = append(files, entry{name: "manifest.json", body: string(mb)})
	return archive(t, files)
}

// ociArchive wraps layers (gzip-compressed here) in an OCI image layout.
func ociArchive(t testing.TB, layers [][]byte, name string, cfg []byte) []byte {
	t.Helper()
	var files []entry
	blob := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		files = append(files, entry{name: "blobs/sha256/" + d.Encoded(), body: string(b)})
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest}
	m.SchemaVersion = 2
	m.Config = blob(cfg)
	m.Config.MediaType = ocispec.MediaTypeImageConfig
	for _, l := range layers {
		d := blob(gzipBytes(t, l))
		d.MediaType = ocispec.MediaTypeImageLayerGzip
		m.Layers = append(m.Layers, d)
	}
	mb, _ := json.Marshal(m)
	md := blob(mb)
	md.MediaType = ocispec.MediaTypeImageManifest
	md.Annotations = map[string]string{"io.containerd.image.name": name, ocispec.AnnotationRefName: "latest"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	files = append(files,
		entry{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
		entry{name: "index.json", body: string(ib)})
	return archive(t, files)
}

// snapshot records every path under dir with its type, mode, size, mtime,
// link target and content hash, skipping the subtree skip.
func snapshot(t testing.TB, dir, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		if info.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			desc += " -> " + l
		} else if info.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			h := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(h[:])
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sentinel makes a parent dir holding a sentinel file and dir next to an
// empty unpack root, and returns the parent and the root.
func sentinel(t testing.TB) (parent, root string) {
	t.Helper()
	parent = t.TempDir()
	// Runs before TempDir's own cleanup: layers may hold read-only dirs
	// that a non-root user must make writable to remove.
	t.Cleanup(func() {
		if err := removeTree(parent); err != nil {
			t.Errorf("clean up %s: %v", parent, err)
		}
	})
	root = filepath.Join(parent, "root")
	for _, d := range []string{root, filepath.Join(parent, "outside")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(parent, "outside", "file"), []byte("sentinel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "x"), []byte("sentinel"), 0o644); err != nil {
		t.Fatal(err)
	}
	return parent, root
}
