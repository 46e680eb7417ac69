package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
)

// blobStall wraps a registry's handler: the first blob download longer
// than after bytes stops there, flushed to the client, until the test
// grants more bytes or releases the rest, or the client goes away.
type blobStall struct {
	after   int64
	taken   atomic.Bool
	stalled chan struct{} // closed when the download stops
	grant   chan int64    // each value lets that many more bytes through
	release chan struct{} // closed by free: the rest goes through
	freed   sync.Once
}

func newBlobStall(t *testing.T, after int64) *blobStall {
	s := &blobStall{after: after, stalled: make(chan struct{}), grant: make(chan int64), release: make(chan struct{})}
	t.Cleanup(s.free)
	return s
}

// free lets the rest of every download through.
func (s *blobStall) free() { s.freed.Do(func() { close(s.release) }) }

func (s *blobStall) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&stallWriter{ResponseWriter: w, s: s, ctx: r.Context(), limit: s.after}, r)
	})
}

// stallWriter is the response of one blob download.
type stallWriter struct {
	http.ResponseWriter
	s        *blobStall
	ctx      context.Context
	n, limit int64
	stopped  bool // this download is the one that stalls
}

func (w *stallWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.n >= w.limit && (w.stopped || w.s.taken.CompareAndSwap(false, true)) {
			if !w.stopped {
				w.stopped = true
				w.ResponseWriter.(http.Flusher).Flush()
				close(w.s.stalled)
			}
			select {
			case k := <-w.s.grant:
				w.limit += k
			case <-w.s.release:
				w.limit = math.MaxInt64
			case <-w.ctx.Done():
				return written, w.ctx.Err()
			}
			continue
		}
		k := len(p)
		if w.n < w.limit && int64(k) > w.limit-w.n {
			k = int(w.limit - w.n)
		}
		if w.n >= w.limit { // another download, past the stalled one's point
			k = len(p)
		}
		m, err := w.ResponseWriter.Write(p[:k])
		written += m
		w.n += int64(m)
		if err != nil {
			return written, err
		}
		if w.stopped {
			w.ResponseWriter.(http.Flusher).Flush()
		}
		p = p[k:]
	}
	return written, nil
}

// waitStalled waits until the stalled download has stopped.
func (s *blobStall) waitStalled(t *testing.T) {
	t.Helper()
	select {
	case <-s.stalled:
	case <-time.After(60 * time.Second):
		t.Fatal("timed out waiting for a blob download to reach the registry")
	}
}

// rangeBlobs serves a registry's blobs with byte ranges (go-containerregistry's
// registry answers only "bytes=A-B") and records each blob GET: its
// Range header and the bytes sent.
type rangeBlobs struct {
	mu   sync.Mutex
	reqs []blobGet
}

type blobGet struct {
	rng  string
	sent int64
}

func (b *rangeBlobs) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
			h.ServeHTTP(w, r)
			return
		}
		whole := r.Clone(r.Context())
		whole.Header.Del("Range")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, whole)
		if rec.Code != http.StatusOK {
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		cw := &countWriter{ResponseWriter: w}
		defer func() {
			b.mu.Lock()
			b.reqs = append(b.reqs, blobGet{rng: r.Header.Get("Range"), sent: cw.n})
			b.mu.Unlock()
		}()
		http.ServeContent(cw, r, "", time.Time{}, bytes.NewReader(rec.Body.Bytes()))
	})
}

// ranged returns the GETs that asked for a range.
func (b *rangeBlobs) ranged() []blobGet {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []blobGet
	for _, g := range b.reqs {
		if g.rng != "" {
			out = append(out, g)
		}
	}
	return out
}

// countWriter counts the bytes a response sends.
type countWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	m, err := c.ResponseWriter.Write(p)
	c.n += int64(m)
	return m, err
}

// TestPullDaemonKilledMidPull: the daemon is SIGKILLed while it downloads
// a pod's image, with part of a layer kept in the store's partial area;
// once restarted it continues that layer from where it stopped (a Range
// request for the rest only) and the pod runs, and the store holds no
// partial blob or work dir, every blob hashes to its name and every
// layer is one an image record names.
func TestPullDaemonKilledMidPull(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // the daemon's too: the machine's credentials stay out
	d := startDaemon(t)
	const after = 256 << 10
	stall := newBlobStall(t, after)
	blobs := &rangeBlobs{}
	ref := serveWorkload(t, "demo:killed", func(h http.Handler) http.Handler { return stall.wrap(blobs.wrap(h)) }) + "/demo:killed"
	if err := os.WriteFile(filepath.Join(d.manifests, "killed.yaml"), []byte(sleeperPod("killed", ref)), 0o644); err != nil {
		t.Fatal(err)
	}
	stall.waitStalled(t)
	store := filepath.Join(d.state, "images")
	var partial string
	testutil.WaitFor(t, 30*time.Second, "the stalled layer's first bytes in the store's partial area", func() bool {
		partial = largeFile(t, filepath.Join(store, "partial"), after)
		return partial != ""
	})
	d.stop(syscall.SIGKILL)
	info, err := os.Stat(partial)
	if err != nil {
		t.Fatalf("the partial layer %s is gone before the restart: %v", partial, err)
	}
	kept := info.Size()

	d.start()
	testutil.WaitFor(t, 60*time.Second, "the pod of the image pulled after the restart to run", func() bool {
		p := d.pod("killed")
		return p.Status.Phase == api.PodRunning && allRunning(p)
	})
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("the partial layer %s is still there: %v", partial, err)
	}
	for _, dir := range []string{"tmp", "partial/sha256"} {
		if ents, err := os.ReadDir(filepath.Join(store, dir)); err != nil || len(ents) != 0 {
			t.Errorf("%s after the restart: %v, %v", dir, ents, err)
		}
	}
	layer, err := os.Stat(filepath.Join(store, "blobs", "sha256", filepath.Base(partial)))
	if err != nil {
		t.Fatalf("the layer blob after the restart: %v", err)
	}
	ranged := blobs.ranged()
	if want := (blobGet{rng: fmt.Sprintf("bytes=%d-", kept), sent: layer.Size() - kept}); len(ranged) != 1 || ranged[0] != want {
		t.Errorf("range requests %+v, want one: %+v", ranged, want)
	}
	t.Logf("layer of %d bytes: %d kept across the kill, %d downloaded after the restart", layer.Size(), kept, layer.Size()-kept)
	checkStoreComplete(t, store)
	if ls := d.mustBerth("image", "ls"); !strings.Contains(ls, ref) {
		t.Errorf("image ls lacks %s:\n%s", ref, ls)
	}
}

// largeFile returns a regular file under dir of at least size bytes, or "".
func largeFile(t *testing.T, dir string, size int64) string {
	found := ""
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil // a work dir removed under the walk
		}
		if info, err := e.Info(); err == nil && info.Size() >= size {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// checkStoreComplete fails for a blob whose content does not hash to its
// name and for a layer no image record names.
func checkStoreComplete(t *testing.T, store string) {
	t.Helper()
	blobs := filepath.Join(store, "blobs", "sha256")
	ents, err := os.ReadDir(blobs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(blobs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != e.Name() {
			t.Errorf("blob %s holds content of digest %s: a partial download", e.Name(), got)
		}
	}
	named := map[string]bool{}
	records, err := filepath.Glob(filepath.Join(store, "images", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range records {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			DiffIDs []string `json:"diffIDs"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("image record %s: %v", path, err)
		}
		for _, id := range rec.DiffIDs {
			named[strings.TrimPrefix(id, "sha256:")] = true
		}
	}
	layers, err := os.ReadDir(filepath.Join(store, "layers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range layers {
		if !named[e.Name()] {
			t.Errorf("layer dir %s belongs to no image", e.Name())
		}
	}
	if len(records) < 2 || len(layers) < 2 {
		t.Errorf("want the imported and the pulled image: %d records, %d layers", len(records), len(layers))
	}
}

// blobProgress is a terminal progress line of a blob being downloaded:
// short digest, bytes so far (not zero), size, rate.
var blobProgress = regexp.MustCompile(`\x1b\[K[0-9a-f]{12}  +([1-9][0-9.]*[KMG]iB|[1-9][0-9]*B) / [0-9.]+[KMG]?i?B +[0-9.]+[KMG]?i?B/s`)

// TestImagePullProgressOnTerminal: `berth image pull` with its output on a
// pseudo-terminal redraws one line per blob in place, with the bytes
// downloaded so far, the size and the rate, then each blob done.
func TestImagePullProgressOnTerminal(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	d := startDaemon(t)
	stall := newBlobStall(t, 64<<10)
	ref := serveWorkload(t, "demo:tty", stall.wrap) + "/demo:tty"
	master, peer := openTestPTY(t)
	cmd := exec.Command(berthBin, d.args("image", "pull", ref)...)
	cmd.Stdout, cmd.Stderr = peer, peer
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peer.Close() // the CLI holds the only peer: reads end with EIO when it exits
	out := &syncBuffer{}
	copied := make(chan struct{})
	go func() {
		io.Copy(out, master)
		close(copied)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stall.waitStalled(t)
	// Bytes trickle in until a redraw (at most every 100 ms) shows some.
	testutil.WaitFor(t, 30*time.Second, "a progress line with bytes on the terminal", func() bool {
		select {
		case stall.grant <- 16 << 10:
		default:
		}
		return blobProgress.MatchString(out.String())
	})
	stall.free()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("berth image pull: %v\n%q", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("berth image pull did not end:\n%q", out.String())
	}
	<-copied
	s := out.String()
	if !strings.Contains(s, "\x1b[2A") && !strings.Contains(s, "\x1b[1A") {
		t.Errorf("no redraw in place (cursor up): %q", s)
	}
	if strings.Count(s, "done in") < 2 || !strings.Contains(s, "pulled "+ref+" ") {
		t.Errorf("the config and layer blobs are not shown done, or no summary: %q", s)
	}
}
