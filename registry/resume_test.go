package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/internal/testutil"
)

// blobReq is one blob GET a blobServer answered.
type blobReq struct {
	blob, rng string // the digest, the Range header
	status    int
	sent      int64
}

// blobServer wraps a registry's handler for blob GETs: it serves byte
// ranges when ranges is set, leaves a ranged request to the registry
// when native is (go-containerregistry's answers only "bytes=A-B", 416
// otherwise), cuts the first download of each blob larger than cutAfter
// (when set) after that many bytes, and records every request.
type blobServer struct {
	ranges, native bool
	cutAfter       int64

	mu   sync.Mutex
	cut  map[string]bool
	reqs []blobReq
}

func (b *blobServer) wrap(h http.Handler) http.Handler {
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
		body := rec.Body.Bytes()
		blob := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		cw := &cutWriter{ResponseWriter: w, limit: -1}
		b.mu.Lock()
		if b.cutAfter > 0 && int64(len(body)) > b.cutAfter && !b.cut[blob] {
			b.cut[blob], cw.limit = true, b.cutAfter
		}
		b.mu.Unlock()
		defer func() {
			b.mu.Lock()
			b.reqs = append(b.reqs, blobReq{blob: blob, rng: r.Header.Get("Range"), status: cw.status, sent: cw.n})
			b.mu.Unlock()
		}()
		if b.native && r.Header.Get("Range") != "" {
			h.ServeHTTP(cw, r)
			return
		}
		served := r
		if !b.ranges {
			served = whole
		}
		http.ServeContent(cw, served, "", time.Time{}, bytes.NewReader(body))
	})
}

// requests returns the GETs of blob d.
func (b *blobServer) requests(d string) []blobReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []blobReq
	for _, r := range b.reqs {
		if r.blob == d {
			out = append(out, r)
		}
	}
	return out
}

// cutWriter counts what it sends and, past limit bytes (when not -1),
// drops the connection.
type cutWriter struct {
	http.ResponseWriter
	status   int
	n, limit int64
}

func (c *cutWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.limit >= 0 && c.n+int64(len(p)) > c.limit {
		m, _ := c.ResponseWriter.Write(p[:c.limit-c.n])
		c.n += int64(m)
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	m, err := c.ResponseWriter.Write(p)
	c.n += int64(m)
	return m, err
}

// oneLayer pushes an image of one layer of about size bytes to
// host/repo:1 and returns the layer's digest and size and the config's
// size.
func oneLayer(t *testing.T, host, repo string, size int64) (layer string, layerSize, configSize int64) {
	t.Helper()
	l, err := random.Layer(size, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(randomImage(t, 0), l)
	if err != nil {
		t.Fatal(err)
	}
	push(t, host+"/"+repo+":1", img)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(t, ls[0].Digest)
	layerSize, err = ls[0].Size()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return d.String(), layerSize, int64(len(raw))
}

func partialPath(s *images.Store, blob string) string {
	return filepath.Join(s.Root(), "partial", "sha256", strings.TrimPrefix(blob, "sha256:"))
}

// checkBlobs fails unless every blob of the store hashes to its name.
func checkBlobs(t *testing.T, s *images.Store) {
	t.Helper()
	dir := filepath.Join(s.Root(), "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != e.Name() {
			t.Errorf("blob %s does not hash to its name", e.Name())
		}
	}
}

func assertNoPartials(t *testing.T, s *images.Store) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Root(), "partial", "sha256"))
	if err != nil || len(ents) != 0 {
		t.Errorf("partial downloads left: %v, %v", ents, err)
	}
}

func TestPullResumesCutDownload(t *testing.T) {
	const cut = 100_000
	rng := fmt.Sprintf("bytes=%d-", cut)
	for _, tc := range []struct {
		name           string
		ranges, native bool
		// the layer's requests after the cut one: their Range and
		// status; the last one sends the rest of the blob
		want []blobReq
		rest func(size int64) int64
	}{
		{"range", true, false, []blobReq{{rng: rng, status: http.StatusPartialContent}},
			func(size int64) int64 { return size - cut }},
		{"no range support", false, false, []blobReq{{rng: rng, status: http.StatusOK}},
			func(size int64) int64 { return size }},
		{"range refused", false, true, []blobReq{{rng: rng, status: http.StatusRequestedRangeNotSatisfiable}, {status: http.StatusOK}},
			func(size int64) int64 { return size }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &blobServer{ranges: tc.ranges, native: tc.native, cutAfter: cut, cut: map[string]bool{}}
			host := serve(t, b.wrap)
			layer, size, configSize := oneLayer(t, host, "demo", 300_000)
			s := newStore(t)
			p := mustNew(t, s, anonymous)
			if _, err := p.Pull(context.Background(), host+"/demo:1", images.DefaultPlatform(), nil); err == nil {
				t.Fatal("the pull of a cut download succeeded")
			}
			if info, err := os.Stat(partialPath(s, layer)); err != nil || info.Size() != cut {
				t.Fatalf("partial layer after the cut: %v, %v; want %d bytes", info, err, cut)
			}
			if ents, _ := os.ReadDir(filepath.Join(s.Root(), "blobs", "sha256")); len(ents) != 0 {
				t.Errorf("the failed pull placed blobs: %v", ents)
			}

			res, err := p.Pull(context.Background(), host+"/demo:1", images.DefaultPlatform(), nil)
			if err != nil {
				t.Fatal(err)
			}
			reqs := b.requests(layer)
			if len(reqs) != 1+len(tc.want) {
				t.Fatalf("layer requests %+v, want the cut one and %+v", reqs, tc.want)
			}
			for i, w := range tc.want {
				if got := reqs[1+i]; got.rng != w.rng || got.status != w.status {
					t.Errorf("layer request %d: %+v, want Range %q answered %d", 1+i, got, w.rng, w.status)
				}
			}
			last := reqs[len(reqs)-1]
			if reqs[0].sent != cut || last.sent != tc.rest(size) || res.Downloaded != configSize+tc.rest(size) {
				t.Errorf("sent %d then %d bytes of a %d-byte layer, pull counted %d (config %d); want %d then %d",
					reqs[0].sent, last.sent, size, res.Downloaded, configSize, cut, tc.rest(size))
			}
			t.Logf("layer of %d bytes: %d bytes before the cut, %d after; pull counted %d", size, reqs[0].sent, last.sent, res.Downloaded)
			if !s.HasBlob(digest.Digest(layer)) {
				t.Errorf("store lacks the layer blob")
			}
			checkBlobs(t, s)
			assertNoPartials(t, s)
		})
	}
}

func TestPullDiscardsWrongPartial(t *testing.T) {
	for _, tc := range []struct {
		name string
		kept func(size int64) []byte
		// the Range of the first request
		rng func(size int64) string
	}{
		{"wrong prefix", func(int64) []byte { return bytes.Repeat([]byte{'x'}, 50_000) },
			func(int64) string { return "bytes=50000-" }},
		{"longer than the blob", func(size int64) []byte { return make([]byte, size+1) },
			func(int64) string { return "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &blobServer{ranges: true, cut: map[string]bool{}}
			host := serve(t, b.wrap)
			layer, size, _ := oneLayer(t, host, "demo", 200_000)
			s := newStore(t)
			if err := os.WriteFile(partialPath(s, layer), tc.kept(size), 0o600); err != nil {
				t.Fatal(err)
			}
			res, err := mustNew(t, s, anonymous).Pull(context.Background(), host+"/demo:1", images.DefaultPlatform(), nil)
			if err != nil {
				t.Fatal(err)
			}
			reqs := b.requests(layer)
			if len(reqs) == 0 || reqs[0].rng != tc.rng(size) {
				t.Fatalf("layer requests %+v, want the first with Range %q", reqs, tc.rng(size))
			}
			if last := reqs[len(reqs)-1]; last.rng != "" || last.status != http.StatusOK || last.sent != size {
				t.Errorf("last layer request %+v, want the whole layer", last)
			}
			if len(res.Image.Layers) != 1 {
				t.Fatalf("layers %v", res.Image.Layers)
			}
			checkBlobs(t, s)
			assertNoPartials(t, s)
		})
	}
}

// TestPullDownloadsBounded: ten pulls of ten images of three layers each
// never have more than maxDownloads blob downloads open at once.
func TestPullDownloadsBounded(t *testing.T) {
	var inflight, most atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	host := serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
				h.ServeHTTP(w, r)
				return
			}
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	for i := range 10 {
		push(t, fmt.Sprintf("%s/img%d:1", host, i), randomImage(t, 3))
	}
	s := newStore(t)
	p := mustNew(t, s, anonymous)
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			_, err := p.Pull(context.Background(), fmt.Sprintf("%s/img%d:1", host, i), images.DefaultPlatform(), nil)
			errs <- err
		}()
	}
	testutil.WaitFor(t, 30*time.Second, "the pulls to fill the download slots", func() bool { return inflight.Load() >= maxDownloads })
	close(release)
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := most.Load(); got != maxDownloads {
		t.Errorf("at most %d blob downloads at once, want %d", got, maxDownloads)
	}
}

// TestPullLayerListedTwice: a manifest that lists one layer blob twice
// (as empty layers often are) has it downloaded once into the layout.
func TestPullLayerListedTwice(t *testing.T) {
	b := &blobServer{cut: map[string]bool{}}
	host := serve(t, b.wrap)
	l, err := random.Layer(4096, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(randomImage(t, 0), l, l)
	if err != nil {
		t.Fatal(err)
	}
	push(t, host+"/twice:1", img)
	s := newStore(t)
	res, err := mustNew(t, s, anonymous).Pull(context.Background(), host+"/twice:1", images.DefaultPlatform(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Image.Layers) != 2 || res.Image.Layers[0] != res.Image.Layers[1] {
		t.Errorf("layers %v, want the one layer twice", res.Image.Layers)
	}
	if n := len(b.requests(digestOf(t, l.Digest).String())); n != 1 {
		t.Errorf("layer fetched %d times", n)
	}
}

// TestPullContinuesMirrorsPartialFromOrigin: a layer cut short by a
// mirror is continued from the registry itself, the next endpoint, in
// the same pull, and verified whole.
func TestPullContinuesMirrorsPartialFromOrigin(t *testing.T) {
	const cut = 100_000
	fromMirror := &blobServer{ranges: true, cutAfter: cut, cut: map[string]bool{}}
	fromOrigin := &blobServer{ranges: true, cut: map[string]bool{}}
	mirror, origin := serve(t, fromMirror.wrap), serve(t, fromOrigin.wrap)
	layer, size, _ := oneLayer(t, origin, "app", 300_000)
	img, err := remote.Image(mustRef(t, origin+"/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	push(t, mirror+"/app:1", img)
	fromOrigin.mu.Lock()
	fromOrigin.reqs = nil // the copy's
	fromOrigin.mu.Unlock()
	o := anonymous
	o.Config = &Config{Registries: map[string]Host{origin: {Mirrors: []string{mirror}}}}
	s := newStore(t)
	res, err := mustNew(t, s, o).Pull(context.Background(), origin+"/app:1", images.DefaultPlatform(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, g := fromMirror.requests(layer), fromOrigin.requests(layer)
	if res.Registry != origin || len(m) != 1 || m[0].sent != cut || len(g) != 1 ||
		g[0] != (blobReq{blob: layer, rng: fmt.Sprintf("bytes=%d-", cut), status: http.StatusPartialContent, sent: size - cut}) {
		t.Errorf("pulled from %s; mirror requests %+v, origin %+v: want %d bytes from the mirror, the rest of %d from the origin",
			res.Registry, m, g, cut, size)
	}
	checkBlobs(t, s)
	assertNoPartials(t, s)
}

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
