package images

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
)

// MaxManifestBytes caps an image index, manifest or config: an import
// refuses a larger one, and so should whatever fetches them.
const MaxManifestBytes = maxJSONBlob

// ImportLayout adds the image that a registry pull, fill, writes into dir
// as an OCI image layout (oci-layout, index.json, blobs/sha256/), choosing
// from an index the image for platform p, and marks it Pulled. dir is a fresh directory inside the store's
// work area: nothing fill writes there is used before the import has
// verified it as it verifies an OCI-layout archive (digests, sizes,
// document kinds, layer safety), and the directory is removed afterwards,
// whatever the outcome. The layout may leave out a blob the store already
// has (HasBlob); the store's copy is read, and verified, instead.
func (s *Store) ImportLayout(p Platform, fill func(dir string) error) ([]Image, error) {
	w, err := s.newWorkDir()
	if err != nil {
		return nil, err
	}
	defer w.remove()
	in := filepath.Join(w.path, "in")
	if err := os.Mkdir(in, 0o700); err != nil {
		return nil, fmt.Errorf("image layout: %w", err)
	}
	if err := fill(in); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(in)
	if err != nil {
		return nil, fmt.Errorf("image layout: %w", err)
	}
	defer root.Close()
	if _, err := root.Stat("index.json"); err != nil {
		return nil, fmt.Errorf("image layout has no index.json: %w", ErrInvalidImage)
	}
	pending, err := readOCIArchive(root, p)
	if err != nil {
		return nil, err
	}
	for i := range pending {
		pending[i].pulled = true
	}
	open := func(name string) (io.ReadCloser, error) {
		f, err := root.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			if hex, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
				if d := digest.NewDigestFromEncoded(digest.SHA256, hex); CheckDigest(d) == nil && s.hasBlob(d) {
					return os.Open(s.blobFile(d))
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("open %s in image layout: %w", name, err)
		}
		return f, nil
	}
	return s.commit(w, newBlobStage(w.path), pending, open)
}

// HasBlob reports whether the store holds the blob d, complete and
// verified.
func (s *Store) HasBlob(d digest.Digest) bool {
	return CheckDigest(d) == nil && s.hasBlob(d)
}

// MaxBytes is the store's cap on the bytes of one import (see WithLimits).
func (s *Store) MaxBytes() int64 { return s.maxBytes }
