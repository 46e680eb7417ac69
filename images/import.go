package images

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/atomicfile"
)

// Import reads a docker-save or OCI image-layout tarball (optionally
// gzip-compressed) and adds its images, keeping their blobs as they came.
// Every blob that the archive names by digest is verified before use, and
// every layer's diff ID after unpacking; a mismatch fails the whole import.
func (s *Store) Import(r io.Reader) ([]Image, error) {
	w, err := s.newWorkDir()
	if err != nil {
		return nil, err
	}
	defer w.remove()
	in := filepath.Join(w.path, "in")
	if err := extractArchive(r, in, newBudget(s.maxBytes), s.maxEntries); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(in)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	defer root.Close()
	pending, err := readArchive(root, DefaultPlatform())
	if err != nil {
		return nil, err
	}
	open := func(p string) (io.ReadCloser, error) {
		f, err := root.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open %s in archive: %w", p, err)
		}
		return f, nil
	}
	return s.commit(w, newBlobStage(w.path), pending, open)
}

// ImportRootfs adds a one-layer image made from the directory dir, named
// ref (no name when ref is empty). The image config is empty apart from
// the platform: the pod spec gives the command.
func (s *Store) ImportRootfs(dir, ref string) (Image, error) {
	var refs []string
	if ref != "" {
		norm, err := NormalizeRef(ref)
		if err != nil {
			return Image{}, err
		}
		refs = []string{norm}
	}
	w, err := s.newWorkDir()
	if err != nil {
		return Image{}, err
	}
	defer w.remove()
	// Pack once to a file to learn the diff ID; the file is the layer's
	// blob, and the unpack step reads it back through the same checks as
	// any imported layer.
	st := newBlobStage(w.path)
	layerTar := filepath.Join(w.path, "layer.tar")
	diffID, err := packToFile(dir, layerTar)
	if err != nil {
		return Image{}, err
	}
	st.files[diffID] = layerTar
	now := time.Now().UTC()
	cfg := ocispec.Image{
		Created:  &now,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, fmt.Errorf("encode config for %s: %w", dir, err)
	}
	id, err := st.put(bytes.NewReader(raw), "")
	if err != nil {
		return Image{}, fmt.Errorf("import rootfs %s: %w", dir, err)
	}
	p := pendingImage{id: id, config: cfg, configPath: st.files[id], refs: refs,
		layers: []pendingLayer{{diffID: diffID, path: layerTar, blob: diffID}}}
	open := func(p string) (io.ReadCloser, error) { return os.Open(p) }
	imgs, err := s.commit(w, st, []pendingImage{p}, open)
	if err != nil {
		return Image{}, fmt.Errorf("import rootfs %s: %w", dir, err)
	}
	return imgs[0], nil
}

// packToFile packs dir into the tar file dst, fsynced, and returns its
// diff ID.
func packToFile(dir, dst string) (digest.Digest, error) {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	defer f.Close()
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(f, h))
	if err := packDir(tw, dir); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("pack %s: %w", dir, err)
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// commit verifies and stages the images' blobs and unpacks the layers the
// store lacks into the work dir, then, under the exclusive lock, moves
// layers and blobs into place and writes the image records and refs (in
// that order, so a crash leaves at worst an unnamed image or an unused
// layer or blob, never a name without its content).
//
// Staged copies are not charged to the size budget: they are bounded by
// the archive, whose extraction was.
func (s *Store) commit(w *workDir, st *blobStage, imgs []pendingImage, open opener) ([]Image, error) {
	if err := s.stageBlobs(st, imgs, open); err != nil {
		return nil, err
	}
	b := newBudget(s.maxBytes)
	sizes, err := s.knownLayers()
	if err != nil {
		return nil, err
	}
	fresh := map[digest.Digest]string{} // diff ID -> unpacked dir in w
	unpack := func(l pendingLayer) error {
		if _, ok := sizes[l.diffID]; ok {
			return nil
		}
		if _, ok := fresh[l.diffID]; ok {
			return nil
		}
		dst := filepath.Join(w.path, "layer-"+l.diffID.Encoded())
		size, err := s.unpackOne(l, dst, b, open)
		if err != nil {
			return err
		}
		fresh[l.diffID], sizes[l.diffID] = dst, size
		return nil
	}
	for _, img := range imgs {
		for _, l := range img.layers {
			if err := unpack(l); err != nil {
				return nil, fmt.Errorf("image %s: %w", img.id, err)
			}
		}
	}

	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// A layer counted as present may have been removed meanwhile.
	present, err := s.knownLayers()
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		for _, l := range img.layers {
			if _, ok := present[l.diffID]; ok {
				continue
			}
			if _, ok := fresh[l.diffID]; !ok {
				delete(sizes, l.diffID)
				if err := unpack(l); err != nil {
					return nil, fmt.Errorf("image %s: %w", img.id, err)
				}
			}
			if err := s.placeLayer(fresh[l.diffID], l.diffID); err != nil {
				return nil, err
			}
			present[l.diffID] = sizes[l.diffID]
		}
	}
	if err := atomicfile.SyncDir(filepath.Join(s.root, "layers")); err != nil {
		return nil, err
	}
	// After the layers: a rootfs import unpacks from its staged blob.
	if err := s.placeBlobs(st, imgs, open); err != nil {
		return nil, err
	}
	return s.writeImages(imgs, present)
}

// unpackOne unpacks one layer blob into dst and checks its diff ID.
func (s *Store) unpackOne(l pendingLayer, dst string, b *budget, open opener) (int64, error) {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return 0, fmt.Errorf("layer %s: %w", l.diffID, err)
	}
	rc, err := open(l.path)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", l.diffID, err)
	}
	defer rc.Close()
	dec, closeDec, err := decompress(rc)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", l.diffID, err)
	}
	defer closeDec()
	v := l.diffID.Verifier()
	stream := io.TeeReader(&limitedReader{r: dec, b: b}, v)
	res, err := unpackLayer(stream, dst, b, s.maxEntries)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", l.diffID, err)
	}
	// The diff ID covers the whole stream, padding after the tar end
	// included.
	if _, err := io.Copy(io.Discard, stream); err != nil {
		return 0, fmt.Errorf("layer %s: %w", l.diffID, err)
	}
	if !v.Verified() {
		return 0, fmt.Errorf("layer %s: content does not match its diff ID: %w", l.diffID, ErrDigestMismatch)
	}
	if len(res.devices) > 0 {
		s.log.Info("device nodes unpacked as whiteouts", "layer", l.diffID.String(), "paths", res.devices)
	}
	if len(res.droppedXattrs) > 0 {
		s.log.Info("dropped xattrs outside user.* and security.capability", "layer", l.diffID.String(), "xattrs", res.droppedXattrs)
	}
	return res.size, nil
}

// placeLayer renames an unpacked layer into layers/, replacing a leftover
// directory that no image record claims.
func (s *Store) placeLayer(src string, diffID digest.Digest) error {
	dst := s.layerDir(diffID)
	if err := removeTree(dst); err != nil {
		return fmt.Errorf("remove stale layer %s: %w", diffID, err)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("place layer %s: %w", diffID, err)
	}
	return nil
}

// knownLayers maps the diff IDs of layers that some image record uses and
// that exist on disk to their sizes.
func (s *Store) knownLayers() (map[digest.Digest]int64, error) {
	ids, err := s.recordIDs()
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest]int64{}
	for _, id := range ids {
		rec, err := s.readRecord(id)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		for i, d := range rec.DiffIDs {
			if _, err := os.Lstat(s.layerDir(d)); err == nil {
				out[d] = rec.LayerSizes[i]
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("layer %s: %w", d, err)
			}
		}
	}
	return out, nil
}

// writeImages writes the records and refs of imported images. Callers hold
// the exclusive lock.
func (s *Store) writeImages(imgs []pendingImage, sizes map[digest.Digest]int64) ([]Image, error) {
	now := time.Now().UTC()
	recs := make([]record, 0, len(imgs))
	for _, img := range imgs {
		rec := record{ID: img.id.String(), Config: img.config, Imported: now, DiffIDs: img.config.RootFS.DiffIDs,
			Manifests: img.manifests, ConfigBlob: img.id, Pulled: img.pulled}
		for _, l := range img.layers {
			rec.LayerSizes = append(rec.LayerSizes, sizes[l.diffID])
			rec.LayerBlobs = append(rec.LayerBlobs, l.blob)
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("encode image %s: %w", img.id, err)
		}
		if err := atomicfile.WriteFile(s.recordPath(img.id), b, 0o600); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		for _, r := range img.refs {
			refs[r] = img.id.String()
		}
	}
	if err := s.writeRefs(refs); err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(recs))
	for _, rec := range recs {
		out = append(out, s.image(rec, refs))
	}
	return out, nil
}
