package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCheckDocKind(t *testing.T) {
	const (
		idx  = ocispec.MediaTypeImageIndex
		man  = ocispec.MediaTypeImageManifest
		cfg  = ocispec.MediaTypeImageConfig
		dman = dockerManifestType
		dlst = dockerListType
	)
	tests := []struct {
		name, doc, mediaType string
		ok                   bool
	}{
		{"index", `{"mediaType":"` + idx + `","manifests":[]}`, idx, true},
		{"index without mediaType", `{"manifests":[]}`, idx, true},
		{"docker list as docker list", `{"mediaType":"` + dlst + `","manifests":[]}`, dlst, true},
		{"manifest", `{"mediaType":"` + man + `","config":{},"layers":[]}`, man, true},
		{"docker manifest", `{"mediaType":"` + dman + `","config":{},"layers":[]}`, dman, true},
		{"config", `{"architecture":"amd64","config":{"Cmd":["x"]},"rootfs":{}}`, cfg, true},
		{"null fields are absent", `{"manifests":null,"layers":null}`, man, true},
		{"other media type is the caller's", `{"manifests":[],"layers":[]}`, "application/x-other", true},

		{"index with layers", `{"manifests":[],"layers":[]}`, idx, false},
		{"index with config", `{"manifests":[],"config":{}}`, idx, false},
		{"index with only layers", `{"layers":[]}`, idx, false},
		{"index says manifest", `{"mediaType":"` + man + `","manifests":[]}`, idx, false},
		{"docker list says docker manifest", `{"mediaType":"` + dman + `","manifests":[]}`, dlst, false},
		{"manifest with manifests", `{"config":{},"layers":[],"manifests":[]}`, man, false},
		{"manifest says index", `{"mediaType":"` + idx + `","config":{},"layers":[]}`, man, false},
		{"manifest field names in another case", `{"config":{},"layers":[],"Manifests":[]}`, man, false},
		{"config with layers", `{"config":{},"rootfs":{},"layers":[]}`, cfg, false},
		{"config with manifests", `{"rootfs":{},"manifests":[]}`, cfg, false},
		{"config says manifest", `{"mediaType":"` + man + `","rootfs":{}}`, cfg, false},
		{"not JSON", `{`, man, false},
	}
	for _, tt := range tests {
		err := checkDocKind([]byte(tt.doc), tt.mediaType)
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, ErrInvalidImage) {
			t.Errorf("%s: error %v, want ErrInvalidImage", tt.name, err)
		}
	}
}

// layoutDocs is an OCI layout whose index.json, inner index (when
// nested) and manifest are edited as JSON objects before they are written.
type layoutDocs struct {
	nested                        bool
	editIndex, editInner, editMan func(map[string]any)
	// docker adds docker save's manifest.json, as Docker 25+ does.
	docker bool
}

func (l layoutDocs) build(t *testing.T, layer, cfg []byte) []byte {
	t.Helper()
	var files []entry
	blob := func(b []byte, mt string) ocispec.Descriptor {
		d := digest.FromBytes(b)
		files = append(files, entry{name: "blobs/sha256/" + d.Encoded(), body: string(b)})
		return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
	}
	edit := func(v any, fn func(map[string]any)) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if fn == nil {
			return b
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		fn(m)
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		return b
	}
	cd := blob(cfg, ocispec.MediaTypeImageConfig)
	ld := blob(layer, ocispec.MediaTypeImageLayer)
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld}}
	m.SchemaVersion = 2
	md := blob(edit(m, l.editMan), ocispec.MediaTypeImageManifest)
	if l.nested {
		md.Platform = &ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
		inner := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
		inner.SchemaVersion = 2
		md = blob(edit(inner, l.editInner), ocispec.MediaTypeImageIndex)
	}
	md.Annotations = map[string]string{"io.containerd.image.name": "x:1"}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	files = append(files,
		entry{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
		entry{name: "index.json", body: string(edit(idx, l.editIndex))})
	if l.docker {
		dm, err := json.Marshal([]dockerManifest{{Config: blobPath(cd.Digest), RepoTags: []string{"x:1"}, Layers: []string{blobPath(ld.Digest)}}})
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, entry{name: "manifest.json", body: string(dm)})
	}
	return archive(t, files)
}

// TestImportRefusesAmbiguousDocuments imports layouts whose index or
// manifest could be read as the other kind (CVE-2021-41190), through the
// OCI path and through a docker save archive that carries the same OCI
// documents; a clean layout of each kind imports.
func TestImportRefusesAmbiguousDocuments(t *testing.T) {
	layer := layerFromDir(t, writeTree(t, map[string]string{"f": "content"}), nil)
	cfg := testConfig(t, [][]byte{layer}, "x")
	addManifests := func(m map[string]any) { m["manifests"] = []any{} }
	addLayers := func(m map[string]any) { m["layers"] = []any{} }
	tests := []struct {
		name string
		l    layoutDocs
		ok   bool
	}{
		{"clean", layoutDocs{}, true},
		{"clean nested", layoutDocs{nested: true}, true},
		{"clean docker", layoutDocs{docker: true}, true},
		{"manifest is also an index", layoutDocs{editMan: addManifests}, false},
		{"manifest says it is an index", layoutDocs{editMan: func(m map[string]any) { m["mediaType"] = ocispec.MediaTypeImageIndex }}, false},
		{"index.json is also a manifest", layoutDocs{editIndex: addLayers}, false},
		{"index.json says it is a manifest", layoutDocs{editIndex: func(m map[string]any) { m["mediaType"] = ocispec.MediaTypeImageManifest }}, false},
		{"inner index is also a manifest", layoutDocs{nested: true, editInner: func(m map[string]any) { m["config"] = map[string]any{} }}, false},
		{"nested manifest is also an index", layoutDocs{nested: true, editMan: addManifests}, false},
		{"docker archive, ambiguous manifest", layoutDocs{docker: true, editMan: addManifests}, false},
		{"docker archive, ambiguous index.json", layoutDocs{docker: true, editIndex: addLayers}, false},
		{"docker archive, ambiguous inner index", layoutDocs{docker: true, nested: true, editInner: addLayers}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			imgs, err := s.Import(bytes.NewReader(tt.l.build(t, layer, cfg)))
			if tt.ok {
				if err != nil || len(imgs) != 1 {
					t.Fatalf("Import = %v, %v", imgs, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidImage) || !strings.Contains(err.Error(), "CVE-2021-41190") {
				t.Fatalf("Import error = %v, want the ambiguity named", err)
			}
			if list, _ := s.List(); len(list) != 0 {
				t.Fatalf("refused import left images: %v", list)
			}
		})
	}
}

// TestImportRefusesManifestAsConfig checks a docker save config that is
// really a manifest.
func TestImportRefusesManifestAsConfig(t *testing.T) {
	layer := layerFromDir(t, writeTree(t, map[string]string{"f": "content"}), nil)
	var cfg map[string]any
	if err := json.Unmarshal(testConfig(t, [][]byte{layer}, "x"), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["layers"] = []any{}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	if _, err := s.Import(bytes.NewReader(dockerArchive(t, [][]byte{layer}, "x:1", b))); !errors.Is(err, ErrInvalidImage) {
		t.Fatalf("Import error = %v, want ErrInvalidImage", err)
	}
}
