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
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// entry is one tar entry for hand-built (often hostile) layers.
type entry struct {
	name, link, body string
	typ              byte
	mode             int64
	major, minor     int64 // of a device node
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
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: mode, Size: int64(len(e.body)), Format: tar.FormatPAX,
			Devmajor: e.major, Devminor: e.minor}
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
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Devmajor: e.major, Devminor: e.minor}); err != nil {
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
	return ociLayout(t, layers, name, cfg, false)
}

// ociLayout is ociArchive; with nested, index.json points to an image
// index blob that lists the manifest for this platform.
func ociLayout(t testing.TB, layers [][]byte, name string, cfg []byte, nested bool) []byte {
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
	if nested {
		md.Platform = &ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
		inner := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
		inner.SchemaVersion = 2
		ib, _ := json.Marshal(inner)
		md = blob(ib)
		md.MediaType = ocispec.MediaTypeImageIndex
	}
	md.Annotations = map[string]string{"io.containerd.image.name": name, ocispec.AnnotationRefName: "latest"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	files = append(files,
		entry{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
		entry{name: "index.json", body: string(ib)})
	return archive(t, files)
}

// snapshot records every path under dir with its type, mode, owner, inode,
// link count, size, mtime, ctime, xattrs, link target and content hash,
// skipping the contents of the subtree skip (of which only the inode and
// type are kept, so replacing it is seen). ctime is a backstop for any
// other change of an inode.
func snapshot(t testing.TB, dir, skip string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		if p == skip {
			out[p] = fmt.Sprintf("%v ino=%d", info.Mode().Type(), st.Ino)
			return filepath.SkipDir
		}
		desc := fmt.Sprintf("%v ino=%d nlink=%d uid=%d gid=%d size=%d mtime=%d ctime=%d", info.Mode(), st.Ino, st.Nlink, st.Uid, st.Gid,
			st.Size, syscall.TimespecToNsec(st.Mtim), syscall.TimespecToNsec(st.Ctim))
		desc += " xattrs=" + xattrs(p)
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

// xattrs lists the xattrs of p (not following a symlink) with their
// values, or the error that prevented it.
func xattrs(p string) string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v := make([]byte, 4096)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			out = append(out, name+":"+err.Error())
			continue
		}
		out = append(out, name+"="+string(v[:m]))
	}
	return strings.Join(out, ",")
}

// sentinel makes a temp dir holding sentinel files next to an empty unpack
// root (see makeSentinel), and returns the parent and the root.
func sentinel(t testing.TB) (parent, root string) {
	t.Helper()
	parent = t.TempDir()
	return parent, makeSentinel(t, parent)
}

// makeSentinel fills parent with a sentinel dir, file and symlink and an
// empty unpack root, and returns the root. A cleanup removes the tree
// before TempDir's own: layers may hold read-only dirs that a non-root
// user must make writable to remove.
func makeSentinel(t testing.TB, parent string) (root string) {
	t.Helper()
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
	for _, f := range []string{filepath.Join(parent, "outside", "file"), filepath.Join(parent, "x")} {
		if err := os.WriteFile(f, []byte("sentinel"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("outside/file", filepath.Join(parent, "link")); err != nil {
		t.Fatal(err)
	}
	return root
}

// resetRoot replaces root with a new empty directory.
func resetRoot(t testing.TB, root string) {
	t.Helper()
	if err := removeTree(root); err != nil {
		t.Fatalf("clear unpack root: %v", err)
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
}
