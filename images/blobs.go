package images

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/atomicfile"
)

// pendingBlob is a blob an import keeps in the store.
type pendingBlob struct {
	digest digest.Digest // empty when the archive does not name it
	path   string        // where the import's opener finds it
}

// opener opens a file of an import's source by its path.
type opener func(path string) (io.ReadCloser, error)

// blobStage holds the verified, fsynced copies of the blobs an import adds.
// They live in the import's work dir until commit renames them into
// blobs/ under the store lock.
type blobStage struct {
	dir   string
	files map[digest.Digest]string // digest -> its copy in dir
}

func newBlobStage(dir string) *blobStage {
	return &blobStage{dir: dir, files: map[digest.Digest]string{}}
}

// put copies r into the stage and returns its digest. When want is set, r
// must hash to it.
func (st *blobStage) put(r io.Reader, want digest.Digest) (digest.Digest, error) {
	f, err := os.CreateTemp(st.dir, "blob-*.tmp")
	if err != nil {
		return "", fmt.Errorf("stage blob: %w", err)
	}
	tmp := f.Name()
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	got := digest.NewDigest(digest.SHA256, h)
	if err == nil && want != "" && got != want {
		err = fmt.Errorf("content hashes to %s, not %s: %w", got, want, ErrDigestMismatch)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("stage blob: %w", err)
	}
	if _, ok := st.files[got]; ok {
		// The same content under another path (an unnamed docker save
		// layer that another image names by digest).
		if err := os.Remove(tmp); err != nil {
			return "", fmt.Errorf("stage blob: %w", err)
		}
		return got, nil
	}
	dst := filepath.Join(st.dir, "blob-"+got.Encoded())
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("stage blob %s: %w", got, err)
	}
	st.files[got] = dst
	return got, nil
}

// stageBlobs reads each blob the images use once, before anything of it is
// used: a blob the store already has is only verified, any other is copied
// into the stage. It fills in the digests of layer blobs that the archive
// does not name.
func (s *Store) stageBlobs(st *blobStage, imgs []pendingImage, open opener) error {
	seen := map[string]digest.Digest{} // path -> digest
	for i := range imgs {
		for _, b := range imgs[i].blobs() {
			d, ok := seen[b.path]
			if !ok {
				var err error
				if d, err = s.stageBlob(st, b, open); err != nil {
					return fmt.Errorf("image %s: blob %s: %w", imgs[i].id, b.path, err)
				}
				seen[b.path] = d
			}
			if b.digest != "" && d != b.digest {
				return fmt.Errorf("image %s: blob %s hashes to %s, not %s: %w", imgs[i].id, b.path, d, b.digest, ErrDigestMismatch)
			}
		}
		for j, l := range imgs[i].layers {
			imgs[i].layers[j].blob = seen[l.path]
		}
	}
	return nil
}

func (s *Store) stageBlob(st *blobStage, b pendingBlob, open opener) (digest.Digest, error) {
	if _, ok := st.files[b.digest]; ok { // never for an unnamed blob
		return b.digest, nil
	}
	rc, err := open(b.path)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	if b.digest == "" || !s.hasBlob(b.digest) {
		return st.put(rc, b.digest)
	}
	// The store has it: check the archive anyway, as a corrupt archive
	// is refused whatever the store holds.
	v := b.digest.Verifier()
	if _, err := io.Copy(v, rc); err != nil {
		return "", err
	}
	if !v.Verified() {
		return "", fmt.Errorf("content does not match %s: %w", b.digest, ErrDigestMismatch)
	}
	return b.digest, nil
}

// placeBlobs renames the staged blobs the store lacks into blobs/. A blob
// that was only verified because the store had it, and that has been
// collected since, is staged now. Callers hold the exclusive lock and have
// run stageBlobs.
func (s *Store) placeBlobs(st *blobStage, imgs []pendingImage, open opener) error {
	placed := false
	for _, img := range imgs {
		for _, b := range img.blobs() {
			if s.hasBlob(b.digest) {
				continue
			}
			if _, ok := st.files[b.digest]; !ok {
				if err := restage(st, b, open); err != nil {
					return fmt.Errorf("image %s: blob %s: %w", img.id, b.path, err)
				}
			}
			if err := os.Rename(st.files[b.digest], s.blobFile(b.digest)); err != nil {
				return fmt.Errorf("place blob %s: %w", b.digest, err)
			}
			delete(st.files, b.digest)
			placed = true
		}
	}
	if !placed {
		return nil
	}
	return atomicfile.SyncDir(s.blobDir())
}

func restage(st *blobStage, b pendingBlob, open opener) error {
	rc, err := open(b.path)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = st.put(rc, b.digest)
	return err
}

func (s *Store) blobDir() string { return filepath.Join(s.root, "blobs", "sha256") }

func (s *Store) blobFile(d digest.Digest) string {
	return filepath.Join(s.blobDir(), d.Encoded())
}

// hasBlob reports whether the store holds the blob d. Blobs only appear
// by rename of a complete, verified copy, so presence is enough.
func (s *Store) hasBlob(d digest.Digest) bool {
	_, err := os.Lstat(s.blobFile(d))
	return err == nil
}

// removeUnused deletes the entries of dir that used does not name, with
// rm; what names them in errors.
func removeUnused(dir string, used map[string]bool, rm func(string) error, what string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %ss: %w", what, err)
	}
	for _, e := range ents {
		if used[e.Name()] {
			continue
		}
		if err := rm(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove unused %s %s: %w", what, e.Name(), err)
		}
	}
	return nil
}
