package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/atomicfile"
)

// Errors returned by the store; match them with errors.Is.
var (
	ErrNotFound       = errors.New("image not found")
	ErrAmbiguous      = errors.New("image ID prefix is ambiguous")
	ErrInvalidRef     = errors.New("invalid image reference")
	ErrInvalidImage   = errors.New("invalid image archive")
	ErrDigestMismatch = errors.New("digest mismatch")
	ErrUnsafeEntry    = errors.New("unsafe layer entry")
	ErrTooLarge       = errors.New("archive exceeds size limit")
	ErrNeedsRoot      = errors.New("needs root")
	ErrUnsupported    = errors.New("not supported")
)

// Default limits; see WithLimits.
const (
	DefaultMaxBytes   = 8 << 30
	DefaultMaxEntries = 1 << 20
)

// Image is an image in the store, ready to be stacked by overlayfs.
type Image struct {
	// ID is the digest of the image config, "sha256:<hex>".
	ID string
	// Refs are the references naming this image, sorted, in familiar form.
	Refs []string
	// Created is the image's creation time from its config, or the
	// import time when the config has none.
	Created time.Time
	// Size is the total size of the files in the image's layers.
	Size int64
	// Layers are absolute paths of the unpacked layer dirs, base first.
	// overlayfs wants its lowerdir list in the opposite order.
	Layers []string
	Config ImageConfig
	// Pulled is set for an image a registry pull added (ImportLayout),
	// which imagePullPolicy Always pulls again.
	Pulled bool
	// Imported is when the image was added; LastUsed when a pod last
	// started with it (zero if never).
	Imported, LastUsed time.Time
}

// ImageConfig is the part of the OCI image config that runs a container.
type ImageConfig struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	ExposedPorts []string // "8080/tcp", sorted
	// StopSignal is the image's STOPSIGNAL as written ("SIGUSR1", "10");
	// empty when it sets none.
	StopSignal string
	Labels     map[string]string
}

// Store is an image store rooted at a directory. Its methods are safe for
// concurrent use, also from several processes.
type Store struct {
	root       string
	maxBytes   int64
	maxEntries int
	log        *slog.Logger
}

// Option configures a Store.
type Option func(*Store)

// WithLimits caps the decompressed bytes of one import (and separately the
// bytes written to disk), and the number of entries in one layer.
func WithLimits(maxBytes int64, maxEntries int) Option {
	return func(s *Store) { s.maxBytes, s.maxEntries = maxBytes, maxEntries }
}

// WithLogger sets the logger for notices such as dropped xattrs.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.log = l }
}

// record is the on-disk form of an image: images/<id-hex>.json.
type record struct {
	ID         string          `json:"id"`
	Config     ocispec.Image   `json:"config"`
	DiffIDs    []digest.Digest `json:"diffIDs"`
	LayerSizes []int64         `json:"layerSizes"`
	Imported   time.Time       `json:"imported"`

	// The blobs the image uses. Records written before blobs were kept
	// have none of these fields, and so no blobs.

	// Manifests are the OCI index and manifest blobs that led to the
	// image, outermost first (none for docker save and rootfs images).
	Manifests []digest.Digest `json:"manifests,omitempty"`
	// ConfigBlob is the config blob, the same digest as ID.
	ConfigBlob digest.Digest `json:"configBlob,omitempty"`
	// LayerBlobs are the layer blobs as imported (compressed or not),
	// one per diff ID, in the same order.
	LayerBlobs []digest.Digest `json:"layerBlobs,omitempty"`
	// Pulled: a registry pull added the image (ImportLayout).
	Pulled bool `json:"pulled,omitempty"`
	// LastUsed is when a pod last started with the image (MarkUsed).
	LastUsed time.Time `json:"lastUsed,omitzero"`
}

// blobs lists every blob digest the record uses.
func (r record) blobs() []digest.Digest {
	out := slices.Clone(r.Manifests)
	if r.ConfigBlob != "" {
		out = append(out, r.ConfigBlob)
	}
	return append(out, r.LayerBlobs...)
}

// Open opens (creating if needed) the store at root and removes work dirs
// left behind by crashed imports.
func Open(root string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("image store %s: %w", root, err)
	}
	s := &Store{root: abs, maxBytes: DefaultMaxBytes, maxEntries: DefaultMaxEntries, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create image store %s: %w", abs, err)
	}
	// The root is private whatever umask or an earlier version left.
	if err := os.Chmod(abs, 0o700); err != nil {
		return nil, fmt.Errorf("image store %s: %w", abs, err)
	}
	for _, d := range []string{"images", "layers", filepath.Join("blobs", "sha256"), "tmp", filepath.Join("partial", "sha256")} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store %s: %w", abs, err)
		}
	}
	if err := s.removeStaleTemps(); err != nil {
		return nil, err
	}
	return s, nil
}

// Root returns the store's absolute root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) layerDir(diffID digest.Digest) string {
	return filepath.Join(s.root, "layers", diffID.Encoded())
}

func (s *Store) recordPath(id digest.Digest) string {
	return filepath.Join(s.root, "images", id.Encoded()+".json")
}

// Get resolves ref: a reference ("name", "name:tag", "name@sha256:..."),
// or an image ID or unique ID prefix (with or without "sha256:").
func (s *Store) Get(ref string) (Image, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	refs, err := s.readRefs()
	if err != nil {
		return Image{}, err
	}
	id, err := s.resolve(refs, ref)
	if err != nil {
		return Image{}, err
	}
	rec, err := s.readRecord(id)
	if err != nil {
		return Image{}, err
	}
	return s.image(rec, refs), nil
}

// List returns every image in the store, newest first.
func (s *Store) List() ([]Image, error) {
	unlock, err := s.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	ids, err := s.recordIDs()
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(ids))
	for _, id := range ids {
		rec, err := s.readRecord(id)
		if err != nil {
			return nil, err
		}
		out = append(out, s.image(rec, refs))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Remove drops a reference. Given an image ID (or prefix), it drops every
// reference to that image. An image left without references is deleted,
// and then the layers and blobs no image uses any more. The caller must make sure no
// container still runs on the image's layers.
func (s *Store) Remove(ref string) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	refs, err := s.readRefs()
	if err != nil {
		return err
	}
	id, err := s.resolve(refs, ref)
	if err != nil {
		return err
	}
	if norm, nerr := NormalizeRef(ref); nerr == nil && refs[norm] == id.String() {
		delete(refs, norm)
	} else {
		// Removal by ID: every name of the image goes.
		for r, v := range refs {
			if v == id.String() {
				delete(refs, r)
			}
		}
	}
	if err := s.writeRefs(refs); err != nil {
		return err
	}
	if !slices.Contains(mapValues(refs), id.String()) {
		if err := os.Remove(s.recordPath(id)); err != nil {
			return fmt.Errorf("remove image %s: %w", id, err)
		}
	}
	return s.gc()
}

// resolve maps a reference or ID prefix to an image ID. Names win over ID
// prefixes, as in Docker.
func (s *Store) resolve(refs map[string]string, ref string) (digest.Digest, error) {
	if norm, err := NormalizeRef(ref); err == nil {
		if id, ok := refs[norm]; ok {
			return digest.Digest(id), nil
		}
	}
	prefix := strings.TrimPrefix(ref, "sha256:")
	if prefix == "" || strings.Trim(prefix, "0123456789abcdef") != "" {
		return "", fmt.Errorf("image %q: %w", ref, ErrNotFound)
	}
	ids, err := s.recordIDs()
	if err != nil {
		return "", err
	}
	var found []digest.Digest
	for _, id := range ids {
		if strings.HasPrefix(id.Encoded(), prefix) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("image %q: %w", ref, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("image %q matches %d images: %w", ref, len(found), ErrAmbiguous)
}

// image builds the public view of a record.
func (s *Store) image(rec record, refs map[string]string) Image {
	img := Image{ID: rec.ID, Created: rec.Imported, Pulled: rec.Pulled, Imported: rec.Imported, LastUsed: rec.LastUsed}
	if rec.Config.Created != nil && !rec.Config.Created.IsZero() {
		img.Created = *rec.Config.Created
	}
	for r, id := range refs {
		if id == rec.ID {
			img.Refs = append(img.Refs, r)
		}
	}
	sort.Strings(img.Refs)
	for i, d := range rec.DiffIDs {
		img.Layers = append(img.Layers, s.layerDir(d))
		img.Size += rec.LayerSizes[i]
	}
	c := rec.Config.Config
	img.Config = ImageConfig{
		Entrypoint: c.Entrypoint,
		Cmd:        c.Cmd,
		Env:        c.Env,
		WorkingDir: c.WorkingDir,
		User:       c.User,
		Labels:     c.Labels,
		StopSignal: c.StopSignal,
	}
	for p := range c.ExposedPorts {
		img.Config.ExposedPorts = append(img.Config.ExposedPorts, p)
	}
	sort.Strings(img.Config.ExposedPorts)
	return img
}

func (s *Store) readRefs() (map[string]string, error) {
	refs := map[string]string{}
	b, err := os.ReadFile(filepath.Join(s.root, "refs.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return refs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image refs: %w", err)
	}
	if err := json.Unmarshal(b, &refs); err != nil {
		return nil, fmt.Errorf("parse image refs %s: %w", filepath.Join(s.root, "refs.json"), err)
	}
	return refs, nil
}

func (s *Store) writeRefs(refs map[string]string) error {
	b, err := json.MarshalIndent(refs, "", "  ")
	if err != nil {
		return fmt.Errorf("encode image refs: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(s.root, "refs.json"), b, 0o600)
}

func (s *Store) readRecord(id digest.Digest) (record, error) {
	var rec record
	b, err := os.ReadFile(s.recordPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, fmt.Errorf("image %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return rec, fmt.Errorf("read image %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("parse image record %s: %w", s.recordPath(id), err)
	}
	if len(rec.LayerSizes) != len(rec.DiffIDs) {
		return rec, fmt.Errorf("image record %s: %d layer sizes for %d layers: %w", s.recordPath(id), len(rec.LayerSizes), len(rec.DiffIDs), ErrInvalidImage)
	}
	if len(rec.LayerBlobs) != 0 && len(rec.LayerBlobs) != len(rec.DiffIDs) {
		return rec, fmt.Errorf("image record %s: %d layer blobs for %d layers: %w", s.recordPath(id), len(rec.LayerBlobs), len(rec.DiffIDs), ErrInvalidImage)
	}
	// Digests name files: only well-formed ones are accepted.
	for _, d := range append(rec.blobs(), rec.DiffIDs...) {
		if err := CheckDigest(d); err != nil {
			return rec, fmt.Errorf("image record %s: %w", s.recordPath(id), err)
		}
	}
	return rec, nil
}

// recordIDs lists the IDs of all image records.
func (s *Store) recordIDs() ([]digest.Digest, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "images"))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var ids []digest.Digest
	for _, e := range ents {
		hex, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if id := digest.NewDigestFromEncoded(digest.SHA256, hex); id.Validate() == nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// gc deletes the layer dirs and blobs that no image record uses. Callers
// hold the exclusive lock.
func (s *Store) gc() error {
	ids, err := s.recordIDs()
	if err != nil {
		return err
	}
	layers, blobs := map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		rec, err := s.readRecord(id)
		if err != nil {
			return err
		}
		for _, d := range rec.DiffIDs {
			layers[d.Encoded()] = true
		}
		for _, d := range rec.blobs() {
			blobs[d.Encoded()] = true
		}
	}
	if err := removeUnused(filepath.Join(s.root, "layers"), layers, removeTree, "layer"); err != nil {
		return err
	}
	return removeUnused(s.blobDir(), blobs, os.Remove, "blob")
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
