package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/atomicfile"
)

func importOne(t *testing.T, s *Store, arch []byte) Image {
	t.Helper()
	imgs, err := s.Import(bytes.NewReader(arch))
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(imgs) != 1 {
		t.Fatalf("imported %d images, want 1", len(imgs))
	}
	return imgs[0]
}

func readRec(t *testing.T, s *Store, id string) record {
	t.Helper()
	rec, err := s.readRecord(digest.Digest(id))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func digestsOf(blobs ...[]byte) []digest.Digest {
	var out []digest.Digest
	for _, b := range blobs {
		out = append(out, digest.FromBytes(b))
	}
	return out
}

// checkBlobs fails unless blobs/sha256 holds exactly want, each file
// hashing to its name.
func checkBlobs(t *testing.T, s *Store, want ...[]digest.Digest) {
	t.Helper()
	wantSet := map[string]bool{}
	for _, ds := range want {
		for _, d := range ds {
			wantSet[d.Encoded()] = true
		}
	}
	ents, err := os.ReadDir(s.blobDir())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range ents {
		got[e.Name()] = true
		b, err := os.ReadFile(filepath.Join(s.blobDir(), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if d := digest.FromBytes(b); d.Encoded() != e.Name() {
			t.Errorf("blob %s holds content hashing to %s", e.Name(), d)
		}
	}
	if !reflect.DeepEqual(got, wantSet) {
		t.Fatalf("stored blobs = %v, want %v", got, wantSet)
	}
}

// TestImportKeepsBlobs checks that docker-save, OCI (through a nested
// index) and rootfs imports keep every blob they use, as it came.
func TestImportKeepsBlobs(t *testing.T) {
	s := openStore(t)
	base := layerFromDir(t, writeTree(t, map[string]string{"etc/os-release": "base"}), nil)
	app1 := layerFromDir(t, writeTree(t, map[string]string{"app/one": "1"}), nil)
	app2 := layerFromDir(t, writeTree(t, map[string]string{"app/two": "2"}), nil)

	// docker save with one raw and one gzip-compressed layer.
	app1gz := gzipBytes(t, app1)
	cfg1 := testConfig(t, [][]byte{base, app1}, "one")
	one := importOne(t, s, dockerArchive(t, [][]byte{base, app1gz}, "one:v1", cfg1))
	rec := readRec(t, s, one.ID)
	if rec.Manifests != nil || rec.ConfigBlob.String() != one.ID || !reflect.DeepEqual(rec.LayerBlobs, digestsOf(base, app1gz)) {
		t.Fatalf("docker record blobs: manifests %v config %v layers %v", rec.Manifests, rec.ConfigBlob, rec.LayerBlobs)
	}
	wantOne := digestsOf(cfg1, base, app1gz)
	checkBlobs(t, s, wantOne)

	cfg2 := testConfig(t, [][]byte{base, app2}, "two")
	two := importOne(t, s, ociLayout(t, [][]byte{base, app2}, "two:1", cfg2, true))
	rec = readRec(t, s, two.ID)
	layerBlobs := digestsOf(gzipBytes(t, base), gzipBytes(t, app2))
	if rec.ConfigBlob != digest.FromBytes(cfg2) || !reflect.DeepEqual(rec.LayerBlobs, layerBlobs) || len(rec.Manifests) != 2 {
		t.Fatalf("OCI record blobs: manifests %v config %v layers %v", rec.Manifests, rec.ConfigBlob, rec.LayerBlobs)
	}
	// The chain: index -> manifest -> config and layers.
	var idx ocispec.Index
	if err := json.Unmarshal([]byte(readFile(t, s.blobFile(rec.Manifests[0]))), &idx); err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].Digest != rec.Manifests[1] {
		t.Fatalf("index blob %s: %+v %v", rec.Manifests[0], idx, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal([]byte(readFile(t, s.blobFile(rec.Manifests[1]))), &m); err != nil || m.Config.Digest != rec.ConfigBlob || len(m.Layers) != 2 || m.Layers[1].Digest != layerBlobs[1] {
		t.Fatalf("manifest blob %s: %+v %v", rec.Manifests[1], m, err)
	}
	wantTwo := append(rec.Manifests, rec.ConfigBlob)
	checkBlobs(t, s, wantOne, wantTwo, layerBlobs)

	// A rootfs import keeps the uncompressed tar it built and its config.
	three, err := s.ImportRootfs(writeTree(t, map[string]string{"bin/app": "x"}), "three")
	if err != nil {
		t.Fatal(err)
	}
	rec = readRec(t, s, three.ID)
	if rec.ConfigBlob.String() != three.ID || !reflect.DeepEqual(rec.LayerBlobs, rec.DiffIDs) {
		t.Fatalf("rootfs record blobs: config %v layers %v diff IDs %v", rec.ConfigBlob, rec.LayerBlobs, rec.DiffIDs)
	}
	checkBlobs(t, s, wantOne, wantTwo, layerBlobs, rec.blobs())
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "tmp")); len(ents) != 0 {
		t.Fatalf("imports left work dirs: %v", ents)
	}
}

// TestBlobsSharedAndCollected checks that a blob two images use is stored
// once and survives the removal of one of them, that GC removes exactly
// the blobs no record uses, and that records from before blobs were kept
// still read and own no blobs.
func TestBlobsSharedAndCollected(t *testing.T) {
	s := openStore(t)
	base := layerFromDir(t, writeTree(t, map[string]string{"etc/os-release": "base"}), nil)
	app1 := layerFromDir(t, writeTree(t, map[string]string{"app/one": "1"}), nil)
	app2 := layerFromDir(t, writeTree(t, map[string]string{"app/two": "2"}), nil)
	cfg1 := testConfig(t, [][]byte{base, app1}, "one")
	cfg2 := testConfig(t, [][]byte{base, app2}, "two")
	dockerOne := dockerArchive(t, [][]byte{base, app1}, "one:1", cfg1)

	one := importOne(t, s, dockerOne)
	baseBlob := s.blobFile(digest.FromBytes(base))
	baseIno := inode(t, baseBlob)
	two := importOne(t, s, dockerArchive(t, [][]byte{base, app2}, "two:1", cfg2))
	if inode(t, baseBlob) != baseIno {
		t.Fatal("shared base blob was replaced by the second import")
	}
	checkBlobs(t, s, digestsOf(cfg1, cfg2, base, app1, app2))

	// A stray blob no record names goes with the next collection.
	stray := digest.FromString("stray")
	if err := os.WriteFile(s.blobFile(stray), []byte("stray"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("one:1"); err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, s, digestsOf(cfg2, base, app2))
	if inode(t, baseBlob) != baseIno {
		t.Fatal("shared base blob was rewritten")
	}
	if _, err := os.Stat(one.Layers[1]); !os.IsNotExist(err) {
		t.Fatalf("layer of the removed image not collected: %v", err)
	}

	// Rewrite two's record as an older berth wrote it: no blob fields.
	rec := readRec(t, s, two.ID)
	rec.Manifests, rec.ConfigBlob, rec.LayerBlobs = nil, "", nil
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("Blob")) || bytes.Contains(b, []byte("manifests")) {
		t.Fatalf("legacy record still names blobs: %s", b)
	}
	if err := atomicfile.WriteFile(s.recordPath(digest.Digest(two.ID)), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("two:1"); err != nil || !reflect.DeepEqual(got.Layers, two.Layers) {
		t.Fatalf("Get of a legacy record = %+v, %v", got, err)
	}
	// The legacy record claims its layers but no blobs.
	importOne(t, s, dockerOne)
	if err := s.Remove("one:1"); err != nil {
		t.Fatal(err)
	}
	checkBlobs(t, s)
	for _, l := range two.Layers {
		if _, err := os.Stat(l); err != nil {
			t.Fatalf("layer of the legacy image collected: %v", err)
		}
	}
	if err := s.Remove("two:1"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "layers")); len(ents) != 0 {
		t.Fatalf("layers left after removing everything: %v", ents)
	}
}

// TestImportCorruptBlobAlreadyStored re-imports an image whose layer blob
// the store holds, from an archive where that blob is corrupt: the import
// fails and the stored blob is untouched.
func TestImportCorruptBlobAlreadyStored(t *testing.T) {
	s := openStore(t)
	layer := layerFromDir(t, writeTree(t, map[string]string{"f": "content"}), nil)
	cfg := testConfig(t, [][]byte{layer}, "x")
	good := ociArchive(t, [][]byte{layer}, "x:1", cfg)
	img := importOne(t, s, good)
	gz := gzipBytes(t, layer)
	bad := bytes.Clone(good)
	i := bytes.Index(bad, gz)
	bad[i+len(gz)/2] ^= 0xff
	if _, err := s.Import(bytes.NewReader(bad)); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("corrupt re-import: %v, want ErrDigestMismatch", err)
	}
	rec := readRec(t, s, img.ID)
	checkBlobs(t, s, rec.blobs())
}

// TestOpenRemovesCrashedBlobTemps checks that a staged blob left by a
// crashed import goes on Open, while a running import's stays.
func TestOpenRemovesCrashedBlobTemps(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(root, "tmp", "crashed")
	if err := os.Mkdir(crashed, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"blob-123.tmp", "blob-" + digest.FromString("x").Encoded()} {
		if err := os.WriteFile(filepath.Join(crashed, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	running, err := s.newWorkDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { running.remove() })
	st := newBlobStage(running.path)
	d, err := st.put(bytes.NewReader([]byte("y")), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(crashed); !os.IsNotExist(err) {
		t.Fatalf("crashed import's blob temps survived Open: %v", err)
	}
	if _, err := os.Stat(st.files[d]); err != nil {
		t.Fatalf("running import's staged blob removed: %v", err)
	}
}
