package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/lazyre"
)

// maxJSONBlob caps manifests, indexes and configs read into memory.
const maxJSONBlob = 16 << 20

// pendingImage is an image read from an archive, not yet in the store.
type pendingImage struct {
	id     digest.Digest // also the digest of the config blob
	config ocispec.Image
	// configPath is where the config blob is. Like every path of a
	// pending image it is for the import's opener: relative to the
	// archive root, or absolute in a rootfs import's work dir.
	configPath string
	// manifests are the OCI index and manifest blobs that lead to the
	// image, outermost first; docker save archives have none.
	manifests []digest.Digest
	layers    []pendingLayer
	refs      []string
	pulled    bool // added by a registry pull
}

// pendingLayer is a layer blob inside the extracted archive.
type pendingLayer struct {
	diffID digest.Digest
	path   string
	// blob is the blob's digest. The archive names it in OCI layouts
	// and Docker 25+ archives, and it is verified before anything uses
	// the blob; for older docker save layers it is filled in by hashing.
	blob digest.Digest
}

// blobs lists the blobs img uses: manifests, config, then layers.
func (img pendingImage) blobs() []pendingBlob {
	out := make([]pendingBlob, 0, len(img.manifests)+1+len(img.layers))
	for _, d := range img.manifests {
		out = append(out, pendingBlob{digest: d, path: blobPath(d)})
	}
	out = append(out, pendingBlob{digest: img.id, path: img.configPath})
	for _, l := range img.layers {
		out = append(out, pendingBlob{digest: l.blob, path: l.path})
	}
	return out
}

// zstdMaxWindow caps the window a zstd stream may ask the decoder to
// hold in memory: 128 MiB is what zstd --long uses, and covers every
// level of the reference encoder.
const zstdMaxWindow = 128 << 20

// decompress returns r, gunzipped or zstd-decoded when it starts with the
// gzip or zstd magic.
func decompress(r io.Reader) (io.Reader, func() error, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return gz, gz.Close, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, fmt.Errorf("zstd: %w", err)
		}
		return zr, func() error { zr.Close(); return nil }, nil
	}
	return br, func() error { return nil }, nil
}

// extractArchive writes the regular files, directories and symlinks of the
// outer image tarball into dir. It goes through os.Root, so nothing lands
// outside dir and later reads cannot follow a symlink out of it.
func extractArchive(r io.Reader, dir string, b *budget, maxEntries int) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	defer root.Close()
	dec, closeDec, err := decompress(r)
	if err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	defer closeDec()
	tr := tar.NewReader(&limitedReader{r: dec, b: b})
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("image archive: %w: %w", ErrInvalidImage, err)
		}
		if n >= maxEntries {
			return fmt.Errorf("image archive has more than %d entries: %w", maxEntries, ErrTooLarge)
		}
		if err := extractEntry(root, hdr, tr); err != nil {
			return fmt.Errorf("image archive entry %q: %w", hdr.Name, err)
		}
	}
}

func extractEntry(root *os.Root, hdr *tar.Header, r io.Reader) error {
	name, err := cleanEntryName(hdr.Name)
	if err != nil || name == "." {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return root.MkdirAll(name, 0o700)
	case tar.TypeSymlink:
		// docker save links repeated layers to their first copy.
		if err := root.MkdirAll(path.Dir(name), 0o700); err != nil {
			return err
		}
		return root.Symlink(hdr.Linkname, name)
	case tar.TypeReg:
		if err := root.MkdirAll(path.Dir(name), 0o700); err != nil {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return nil // other types carry nothing an image archive needs
}

// readArchive detects the archive format and lists its images. Docker's
// manifest.json is preferred when present: Docker 25+ writes both, and
// its RepoTags are what the user knows.
func readArchive(root *os.Root, p Platform) ([]pendingImage, error) {
	if _, err := root.Stat("manifest.json"); err == nil {
		return readDockerArchive(root)
	}
	if _, err := root.Stat("index.json"); err == nil {
		return readOCIArchive(root, p)
	}
	return nil, fmt.Errorf("neither manifest.json (docker save) nor index.json (OCI layout) found: %w", ErrInvalidImage)
}

// dockerManifest is one entry of docker save's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// blobPathRe matches blob paths that name their digest.
var blobPathRe = lazyre.New(`^(?:blobs/sha256/)?([a-f0-9]{64})(?:\.json|/layer\.tar)?$`)

func readDockerArchive(root *os.Root) ([]pendingImage, error) {
	var manifests []dockerManifest
	if err := readJSONFile(root, "manifest.json", &manifests); err != nil {
		return nil, err
	}
	if err := checkOCIDocs(root); err != nil {
		return nil, err
	}
	out := make([]pendingImage, 0, len(manifests))
	for _, m := range manifests {
		img, err := dockerImage(root, m)
		if err != nil {
			return nil, fmt.Errorf("image %s (%v): %w", m.Config, m.RepoTags, err)
		}
		out = append(out, img)
	}
	return out, nil
}

func dockerImage(root *os.Root, m dockerManifest) (pendingImage, error) {
	raw, err := readFileLimited(root, m.Config)
	if err != nil {
		return pendingImage{}, err
	}
	img := pendingImage{id: digest.FromBytes(raw), configPath: m.Config}
	if sm := blobPathRe().FindStringSubmatch(m.Config); sm != nil && sm[1] != img.id.Encoded() {
		return pendingImage{}, fmt.Errorf("config %s hashes to %s: %w", m.Config, img.id, ErrDigestMismatch)
	}
	if err := checkDocKind(raw, ocispec.MediaTypeImageConfig); err != nil {
		return pendingImage{}, fmt.Errorf("config %s: %w", m.Config, err)
	}
	if img.config, err = parseConfig(raw); err != nil {
		return pendingImage{}, err
	}
	if len(m.Layers) != len(img.config.RootFS.DiffIDs) {
		return pendingImage{}, fmt.Errorf("%d layers for %d diff IDs: %w", len(m.Layers), len(img.config.RootFS.DiffIDs), ErrInvalidImage)
	}
	for i, p := range m.Layers {
		l := pendingLayer{diffID: img.config.RootFS.DiffIDs[i], path: p}
		if sm := blobPathRe().FindStringSubmatch(p); sm != nil && strings.HasPrefix(p, "blobs/") {
			l.blob = digest.NewDigestFromEncoded(digest.SHA256, sm[1])
		}
		img.layers = append(img.layers, l)
	}
	for _, t := range m.RepoTags {
		ref, err := NormalizeRef(t)
		if err != nil {
			return pendingImage{}, err
		}
		img.refs = append(img.refs, ref)
	}
	return img, nil
}

func readOCIArchive(root *os.Root, p Platform) ([]pendingImage, error) {
	var layout ocispec.ImageLayout
	if err := readJSONFile(root, ocispec.ImageLayoutFile, &layout); err != nil {
		return nil, err
	}
	if layout.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("OCI layout version %q: %w", layout.Version, ErrUnsupported)
	}
	index, err := readIndexJSON(root)
	if err != nil {
		return nil, err
	}
	var out []pendingImage
	for _, desc := range index.Manifests {
		img, err := ociImage(root, desc, p, 0)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", desc.Digest, err)
		}
		if name := ociRefName(desc.Annotations); name != "" {
			ref, err := NormalizeRef(name)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", desc.Digest, err)
			}
			byDigest, err := digestRef(ref, desc.Digest)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", desc.Digest, err)
			}
			img.refs = append(img.refs, ref, byDigest)
		}
		out = append(out, img)
	}
	return out, nil
}

// ociRefName returns the full reference an index entry is annotated with.
// A bare tag in org.opencontainers.image.ref.name names no repository and
// is not used.
func ociRefName(ann map[string]string) string {
	if n := ann["io.containerd.image.name"]; n != "" {
		return n
	}
	if n := ann[ocispec.AnnotationRefName]; strings.ContainsAny(n, "/:") {
		return n
	}
	return ""
}

const (
	dockerManifestType = "application/vnd.docker.distribution.manifest.v2+json"
	dockerListType     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// ociImage reads the image a descriptor points to; an index resolves to
// its entry for platform p.
func ociImage(root *os.Root, desc ocispec.Descriptor, p Platform, depth int) (pendingImage, error) {
	if depth > 4 {
		return pendingImage{}, fmt.Errorf("nested indexes: %w", ErrInvalidImage)
	}
	raw, err := readBlob(root, desc)
	if err != nil {
		return pendingImage{}, err
	}
	if err := checkDocKind(raw, desc.MediaType); err != nil {
		return pendingImage{}, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	switch desc.MediaType {
	case ocispec.MediaTypeImageIndex, dockerListType:
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return pendingImage{}, fmt.Errorf("index %s: %w: %w", desc.Digest, ErrInvalidImage, err)
		}
		if m, ok := p.Choose(idx.Manifests); ok {
			img, err := ociImage(root, m, p, depth+1)
			img.manifests = append([]digest.Digest{desc.Digest}, img.manifests...)
			return img, err
		}
		return pendingImage{}, fmt.Errorf("index %s has no %s image: %w", desc.Digest, p, ErrUnsupported)
	case ocispec.MediaTypeImageManifest, dockerManifestType:
	default:
		return pendingImage{}, fmt.Errorf("media type %q: %w", desc.MediaType, ErrUnsupported)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return pendingImage{}, fmt.Errorf("manifest %s: %w: %w", desc.Digest, ErrInvalidImage, err)
	}
	cfg, err := readBlob(root, m.Config)
	if err != nil {
		return pendingImage{}, fmt.Errorf("config: %w", err)
	}
	if err := checkDocKind(cfg, ocispec.MediaTypeImageConfig); err != nil {
		return pendingImage{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	img := pendingImage{id: m.Config.Digest, configPath: blobPath(m.Config.Digest), manifests: []digest.Digest{desc.Digest}}
	if img.config, err = parseConfig(cfg); err != nil {
		return pendingImage{}, err
	}
	if len(m.Layers) != len(img.config.RootFS.DiffIDs) {
		return pendingImage{}, fmt.Errorf("%d layers for %d diff IDs: %w", len(m.Layers), len(img.config.RootFS.DiffIDs), ErrInvalidImage)
	}
	for i, l := range m.Layers {
		if !strings.Contains(l.MediaType, "tar") {
			return pendingImage{}, fmt.Errorf("layer %s media type %q: %w", l.Digest, l.MediaType, ErrUnsupported)
		}
		if err := CheckDigest(l.Digest); err != nil {
			return pendingImage{}, err
		}
		img.layers = append(img.layers, pendingLayer{
			diffID: img.config.RootFS.DiffIDs[i],
			path:   blobPath(l.Digest),
			blob:   l.Digest,
		})
	}
	return img, nil
}

// parseConfig decodes and checks an image config.
func parseConfig(raw []byte) (ocispec.Image, error) {
	var c ocispec.Image
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("image config: %w: %w", ErrInvalidImage, err)
	}
	if c.OS != "" && c.OS != "linux" {
		return c, fmt.Errorf("image OS %q: %w", c.OS, ErrUnsupported)
	}
	if c.RootFS.Type != "layers" {
		return c, fmt.Errorf("rootfs type %q: %w", c.RootFS.Type, ErrInvalidImage)
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := CheckDigest(d); err != nil {
			return c, fmt.Errorf("diff ID: %w", err)
		}
	}
	return c, nil
}

// CheckDigest accepts well-formed sha256 digests only, which also makes
// them safe to use in paths.
func CheckDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("digest %q: %w", d, ErrInvalidImage)
	}
	return nil
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// readBlob reads a small blob and checks its size and digest.
func readBlob(root *os.Root, desc ocispec.Descriptor) ([]byte, error) {
	if err := CheckDigest(desc.Digest); err != nil {
		return nil, err
	}
	if desc.Size < 0 || desc.Size > maxJSONBlob {
		return nil, fmt.Errorf("blob %s of %d bytes: %w", desc.Digest, desc.Size, ErrTooLarge)
	}
	raw, err := readFileLimited(root, blobPath(desc.Digest))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != desc.Size {
		return nil, fmt.Errorf("blob %s is %d bytes, descriptor says %d: %w", desc.Digest, len(raw), desc.Size, ErrDigestMismatch)
	}
	if got := digest.FromBytes(raw); got != desc.Digest {
		return nil, fmt.Errorf("blob %s hashes to %s: %w", desc.Digest, got, ErrDigestMismatch)
	}
	return raw, nil
}

func readFileLimited(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s missing from archive: %w", name, ErrInvalidImage)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s in archive: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJSONBlob+1))
	if err != nil {
		return nil, fmt.Errorf("read %s in archive: %w", name, err)
	}
	if len(b) > maxJSONBlob {
		return nil, fmt.Errorf("%s in archive: %w", name, ErrTooLarge)
	}
	return b, nil
}

func readJSONFile(root *os.Root, name string, v any) error {
	b, err := readFileLimited(root, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w: %w", name, ErrInvalidImage, err)
	}
	return nil
}

// Document kinds of checkDocKind: the media types an image index, an image
// manifest and an image config may carry in their own mediaType field.
var (
	indexTypes    = []string{ocispec.MediaTypeImageIndex, dockerListType}
	manifestTypes = []string{ocispec.MediaTypeImageManifest, dockerManifestType}
)

// checkDocKind refuses a JSON document whose content disagrees with the
// media type it was reached by, as containerd and the OCI image spec
// (1.0.2) do since CVE-2021-41190: a document with "manifests" and
// "layers" or "config" is an index to one reader and a manifest to
// another. An index must not have "layers" or "config", a manifest no
// "manifests", a config neither; a mediaType field inside the document
// must name the same kind. Other media types are left to the caller.
func checkDocKind(raw []byte, mediaType string) error {
	var doc struct {
		MediaType string          `json:"mediaType"`
		Config    json.RawMessage `json:"config"`
		Layers    json.RawMessage `json:"layers"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w: %w", mediaType, ErrInvalidImage, err)
	}
	has := func(m json.RawMessage) bool { return len(m) > 0 && string(m) != "null" }
	var what string
	switch {
	case slices.Contains(indexTypes, mediaType):
		switch {
		case has(doc.Layers) || has(doc.Config):
			what = `image index also has a manifest's "layers"/"config"`
		case doc.MediaType != "" && !slices.Contains(indexTypes, doc.MediaType):
			what = "image index says its mediaType is " + doc.MediaType
		}
	case slices.Contains(manifestTypes, mediaType):
		switch {
		case has(doc.Manifests):
			what = `image manifest also has an index's "manifests"`
		case doc.MediaType != "" && !slices.Contains(manifestTypes, doc.MediaType):
			what = "image manifest says its mediaType is " + doc.MediaType
		}
	case mediaType == ocispec.MediaTypeImageConfig:
		switch {
		case has(doc.Manifests) || has(doc.Layers):
			what = `image config has an index's "manifests" or a manifest's "layers"`
		case slices.Contains(indexTypes, doc.MediaType) || slices.Contains(manifestTypes, doc.MediaType):
			what = "image config says its mediaType is " + doc.MediaType
		}
	}
	if what != "" {
		return fmt.Errorf("%s: different tools would read it as different images (CVE-2021-41190); re-export the image with a current tool: %w", what, ErrInvalidImage)
	}
	return nil
}

// readIndexJSON reads and checks an OCI layout's index.json.
func readIndexJSON(root *os.Root) (ocispec.Index, error) {
	var index ocispec.Index
	raw, err := readFileLimited(root, "index.json")
	if err != nil {
		return index, err
	}
	if err := checkDocKind(raw, ocispec.MediaTypeImageIndex); err != nil {
		return index, fmt.Errorf("index.json: %w", err)
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		return index, fmt.Errorf("parse index.json: %w: %w", ErrInvalidImage, err)
	}
	return index, nil
}

// checkOCIDocs checks the OCI index and the manifests and indexes it
// names, when a docker save archive also carries them (Docker 25+): berth
// reads manifest.json, but other tools read index.json, and the archive
// must not mean different images to them. Blobs the index names but the
// archive lacks are not used by anyone here and are not checked.
func checkOCIDocs(root *os.Root) error {
	if _, err := root.Stat("index.json"); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	index, err := readIndexJSON(root)
	if err != nil {
		return err
	}
	return checkOCIDescs(root, index.Manifests, 0)
}

func checkOCIDescs(root *os.Root, descs []ocispec.Descriptor, depth int) error {
	if depth > 4 {
		return fmt.Errorf("nested indexes: %w", ErrInvalidImage)
	}
	for _, d := range descs {
		isIndex := slices.Contains(indexTypes, d.MediaType)
		if !isIndex && !slices.Contains(manifestTypes, d.MediaType) {
			continue
		}
		if err := CheckDigest(d.Digest); err != nil {
			return err
		}
		if _, err := root.Stat(blobPath(d.Digest)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		raw, err := readBlob(root, d)
		if err != nil {
			return err
		}
		if err := checkDocKind(raw, d.MediaType); err != nil {
			return fmt.Errorf("blob %s: %w", d.Digest, err)
		}
		if !isIndex {
			continue
		}
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return fmt.Errorf("index %s: %w: %w", d.Digest, ErrInvalidImage, err)
		}
		if err := checkOCIDescs(root, idx.Manifests, depth+1); err != nil {
			return err
		}
	}
	return nil
}
