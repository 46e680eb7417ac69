package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/images"
)

// serve runs an in-process registry on 127.0.0.1, its handler wrapped by
// wrap when set, and returns its host:port.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// push writes img to ref, bypassing any wrapper's auth with basic
// credentials when given.
func push(t *testing.T, ref string, img v1.Image, opts ...remote.Option) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func pushIndex(t *testing.T, ref string, idx v1.ImageIndex) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(2048, layers)
	if err != nil {
		t.Fatal(err)
	}
	// A config that says linux, as the store wants.
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, f func() (v1.Hash, error)) digest.Digest {
	t.Helper()
	h, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(h.String())
}

func newStore(t *testing.T, opts ...images.Option) *images.Store {
	t.Helper()
	s, err := images.Open(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// anonymous is a keychain that never finds credentials, so that tests do
// not read the machine's Docker config.
var anonymous = Options{Keychain: emptyKeychain{}}

// assertClean fails unless the store holds no image, layer, blob or work
// dir or partial download: a refused pull leaves nothing behind.
func assertClean(t *testing.T, s *images.Store) {
	t.Helper()
	for _, d := range []string{"images", "layers", "blobs/sha256", "tmp", "partial/sha256"} {
		ents, err := os.ReadDir(filepath.Join(s.Root(), d))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 0 {
			t.Errorf("%s holds %d entries after a refused pull, first %s", d, len(ents), ents[0].Name())
		}
	}
}

func TestPullByTagAndDigest(t *testing.T) {
	host := serve(t, nil)
	img := randomImage(t, 2)
	push(t, host+"/demo:1", img)
	mdigest := digestOf(t, img.Digest)
	id := digestOf(t, img.ConfigName)

	s := newStore(t)
	p := mustNew(t, s, anonymous)
	res, err := p.Pull(context.Background(), host+"/demo:1", images.DefaultPlatform(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.ID != id.String() || res.Digest != mdigest {
		t.Fatalf("pulled %s (repo digest %s), want %s (%s)", res.Image.ID, res.Digest, id, mdigest)
	}
	want := []string{host + "/demo:1", host + "/demo@" + mdigest.String()}
	if fmt.Sprint(res.Image.Refs) != fmt.Sprint(want) {
		t.Errorf("refs %v, want %v", res.Image.Refs, want)
	}
	if len(res.Image.Layers) != 2 || res.Downloaded == 0 {
		t.Errorf("layers %v, downloaded %d", res.Image.Layers, res.Downloaded)
	}
	for _, l := range res.Image.Layers {
		if _, err := os.Stat(l); err != nil {
			t.Errorf("layer: %v", err)
		}
	}

	// By digest, and tag plus digest (the digest wins, as with docker
	// pull): layers are present, only the manifest and config move.
	for _, ref := range []string{host + "/demo@" + mdigest.String(), host + "/demo:nosuchtag@" + mdigest.String()} {
		res, err := p.Pull(context.Background(), ref, images.DefaultPlatform(), nil)
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		if res.Image.ID != id.String() {
			t.Errorf("pull %s gave %s, want %s", ref, res.Image.ID, id)
		}
		if res.Downloaded > 4096 {
			t.Errorf("pull %s downloaded %d bytes with the layers present", ref, res.Downloaded)
		}
	}
	if _, err := s.Get(host + "/demo:nosuchtag"); !errors.Is(err, images.ErrNotFound) {
		t.Errorf("tag of a tag@digest pull was recorded: %v", err)
	}

	// A digest the registry does not have.
	bad := host + "/demo@sha256:" + strings.Repeat("0", 64)
	if _, err := p.Pull(context.Background(), bad, images.DefaultPlatform(), nil); err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("pull of a missing digest: %v", err)
	}
}

func TestPullIndexChoosesPlatform(t *testing.T) {
	host := serve(t, nil)
	plats := []v1.Platform{
		{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64", Variant: "v8"},
		{OS: "linux", Architecture: "arm", Variant: "v6"},
		{OS: "linux", Architecture: "arm", Variant: "v7"},
	}
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	ids := map[string]digest.Digest{}
	for _, pl := range plats {
		img := randomImage(t, 1)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
		ids[pl.String()] = digestOf(t, img.ConfigName)
	}
	pushIndex(t, host+"/multi:1", idx)
	idxDigest := digestOf(t, idx.Digest)

	for _, tc := range []struct {
		platform string
		want     string
	}{
		{"linux/amd64", "linux/amd64"},
		{"linux/arm64", "linux/arm64/v8"},
		{"linux/arm64/v8", "linux/arm64/v8"},
		{"linux/arm/v7", "linux/arm/v7"},
		{"linux/arm/v6", "linux/arm/v6"},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			pl, err := images.ParsePlatform(tc.platform)
			if err != nil {
				t.Fatal(err)
			}
			s := newStore(t)
			res, err := mustNew(t, s, anonymous).Pull(context.Background(), host+"/multi:1", pl, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Image.ID != ids[tc.want].String() {
				t.Errorf("pulled %s, want the %s image %s", res.Image.ID, tc.want, ids[tc.want])
			}
			if res.Digest != idxDigest {
				t.Errorf("repo digest %s, want the index's %s", res.Digest, idxDigest)
			}
		})
	}
	s := newStore(t)
	_, err := mustNew(t, s, anonymous).Pull(context.Background(), host+"/multi:1", images.Platform{OS: "linux", Architecture: "s390x"}, nil)
	if !errors.Is(err, images.ErrUnsupported) || !strings.Contains(err.Error(), "linux/arm/v7") {
		t.Errorf("pull for a platform the index lacks: %v", err)
	}
	assertClean(t, s)
}

// basicAuth demands user:pass on every request, as a registry with basic
// auth does.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func writeDockerConfig(t *testing.T, host, user, pass string) {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

func TestPullBasicAuthFromDockerConfig(t *testing.T) {
	host := serve(t, basicAuth("berth", "s3cret-pw"))
	img := randomImage(t, 1)
	push(t, host+"/private:1", img, remote.WithAuth(&basicAuthn{"berth", "s3cret-pw"}))

	writeDockerConfig(t, host, "berth", "s3cret-pw")
	s := newStore(t)
	res, err := mustNew(t, s, Options{}).Pull(context.Background(), host+"/private:1", images.DefaultPlatform(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.ID != digestOf(t, img.ConfigName).String() {
		t.Errorf("pulled %s", res.Image.ID)
	}

	writeDockerConfig(t, host, "berth", "wrong-pw")
	s = newStore(t)
	_, err = mustNew(t, s, Options{}).Pull(context.Background(), host+"/private:1", images.DefaultPlatform(), nil)
	if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("pull with a wrong password: %v", err)
	}
	t.Logf("refused: %v", err)
	if strings.Contains(err.Error(), "wrong-pw") || strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte("berth:wrong-pw"))) {
		t.Errorf("error shows the secret: %v", err)
	}
	assertClean(t, s)
}

// corruptBlobs flips a byte of every blob the registry serves.
func corruptBlobs(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if len(body) > 0 {
			body[len(body)/2] ^= 0xff
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

func TestPullRefusesDigestMismatch(t *testing.T) {
	host := serve(t, corruptBlobs)
	push(t, host+"/demo:1", randomImage(t, 1))
	s := newStore(t)
	_, err := mustNew(t, s, anonymous).Pull(context.Background(), host+"/demo:1", images.DefaultPlatform(), nil)
	if !errors.Is(err, images.ErrDigestMismatch) {
		t.Fatalf("pull of corrupted blobs: %v", err)
	}
	t.Logf("refused: %v", err)
	assertClean(t, s)
}

// bombLayer is a gzip layer of one file of size zero bytes: a few KiB
// compressed.
func bombLayer(t *testing.T, size int64) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestPullRefusesGzipBomb(t *testing.T) {
	host := serve(t, nil)
	img, err := mutate.AppendLayers(randomImage(t, 0), bombLayer(t, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	push(t, host+"/bomb:1", img)
	s := newStore(t, images.WithLimits(1<<20, 1000))
	_, err = mustNew(t, s, anonymous).Pull(context.Background(), host+"/bomb:1", images.DefaultPlatform(), nil)
	if !errors.Is(err, images.ErrTooLarge) {
		t.Fatalf("pull of a gzip bomb: %v", err)
	}
	t.Logf("refused: %v", err)
	assertClean(t, s)
}

// hugeManifest serves a manifest of over images.MaxManifestBytes for
// big:1, with a Content-Length, and for big:2 without one (chunked).
func hugeManifest(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/big/manifests/1", "/v2/big/manifests/2":
		default:
			h.ServeHTTP(w, r)
			return
		}
		pad := strings.Repeat("x", images.MaxManifestBytes)
		body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":"` + pad + `"}}`
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if strings.HasSuffix(r.URL.Path, "/1") {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		for i := 0; i < len(body); i += 64 << 10 {
			if _, err := io.WriteString(w, body[i:min(i+64<<10, len(body))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
}

func TestPullRefusesOversizedManifest(t *testing.T) {
	host := serve(t, hugeManifest)
	for _, ref := range []string{host + "/big:1", host + "/big:2"} {
		s := newStore(t)
		_, err := mustNew(t, s, anonymous).Pull(context.Background(), ref, images.DefaultPlatform(), nil)
		if !errors.Is(err, images.ErrTooLarge) {
			t.Errorf("pull %s: %v", ref, err)
		}
		t.Logf("refused: %v", err)
		assertClean(t, s)
	}
}

// countBlobs counts GETs of each blob.
type countBlobs struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countBlobs) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			c.mu.Lock()
			c.n[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func TestConcurrentPullsDownloadOnce(t *testing.T) {
	c := &countBlobs{n: map[string]int{}}
	host := serve(t, c.wrap)
	img := randomImage(t, 3)
	push(t, host+"/demo:1", img)
	s := newStore(t)
	p := mustNew(t, s, anonymous)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := p.Pull(context.Background(), host+"/demo:1", images.DefaultPlatform(), nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d := digestOf(t, l.Digest)
		if n := c.n[d.String()]; n != 1 {
			t.Errorf("layer %s fetched %d times by 4 concurrent pulls", d, n)
		}
	}
}

func TestGuardRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	called := false
	g := guard{next: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called = true
		return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody}, nil
	}), maxManifest: 10}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://10.0.0.5:5000/v2/", false},
		{"http://192.168.1.2/v2/", false},
		{"http://registry.example/v2/", false},
		{"https://registry.example/v2/", true},
		{"http://127.0.0.1:5000/v2/", true},
		{"http://127.1.2.3/v2/", true},
		{"http://localhost:5000/v2/", true},
		{"http://[::1]:5000/v2/", true},
	} {
		called = false
		req, err := http.NewRequest(http.MethodGet, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = g.RoundTrip(req)
		if tc.ok != (err == nil) || tc.ok != called || (!tc.ok && !errors.Is(err, ErrPlainHTTP)) {
			t.Errorf("%s: err %v, sent %v; want allowed %v", tc.url, err, called, tc.ok)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in, store, remote string
		insecure          bool
	}{
		{"nginx", "nginx:latest", "index.docker.io/library/nginx:latest", false},
		{"nginx:1.27", "nginx:1.27", "index.docker.io/library/nginx:1.27", false},
		{"docker.io/myuser/app", "myuser/app:latest", "index.docker.io/myuser/app:latest", false},
		{"ghcr.io/x/y:1", "ghcr.io/x/y:1", "ghcr.io/x/y:1", false},
		{"127.0.0.1:5000/demo:1", "127.0.0.1:5000/demo:1", "127.0.0.1:5000/demo:1", true},
		{"localhost/demo", "localhost/demo:latest", "localhost/demo:latest", true},
		{"nginx:1@sha256:" + strings.Repeat("a", 64), "nginx@sha256:" + strings.Repeat("a", 64),
			"index.docker.io/library/nginx@sha256:" + strings.Repeat("a", 64), false},
	} {
		got, err := parseRef(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got.store != tc.store || got.remote.Name() != tc.remote {
			t.Errorf("%s: store %q remote %q, want %q %q", tc.in, got.store, got.remote.Name(), tc.store, tc.remote)
		}
		if insecure := got.remote.Context().Scheme() == "http"; insecure != tc.insecure {
			t.Errorf("%s: plain HTTP allowed %v, want %v", tc.in, insecure, tc.insecure)
		}
	}
	for _, bad := range []string{"", "UPPER/case", "a b", "nginx@sha256:short", "a_b.c/busybox"} {
		if _, err := parseRef(bad); !errors.Is(err, images.ErrInvalidRef) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestPullZstdLayer(t *testing.T) {
	host := serve(t, nil)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := "compressed with zstd\n"
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tw, content)
	tw.Close()
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(randomImage(t, 0), types.OCIManifestSchema1), l)
	if err != nil {
		t.Fatal(err)
	}
	push(t, host+"/zstd:1", img)
	s := newStore(t)
	res, err := mustNew(t, s, anonymous).Pull(context.Background(), host+"/zstd:1", images.DefaultPlatform(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(res.Image.Layers[0], "hello"))
	if err != nil || string(got) != content {
		t.Errorf("unpacked zstd layer: %q, %v", got, err)
	}
}

// overrideManifest serves body as the manifest of path, with the OCI
// manifest media type.
func overrideManifest(path string, body func() []byte) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.Write(body())
		})
	}
}

func TestPullRefusesGarbageAndAmbiguousManifests(t *testing.T) {
	var ambiguous []byte
	host := serve(t, func(h http.Handler) http.Handler {
		return overrideManifest("/v2/demo/manifests/garbage", func() []byte { return []byte("<html>not a manifest</html>") })(
			overrideManifest("/v2/demo/manifests/ambiguous", func() []byte { return ambiguous })(h))
	})
	img := mutate.MediaType(randomImage(t, 1), types.OCIManifestSchema1)
	push(t, host+"/demo:real", img)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	// A manifest that is also an index (CVE-2021-41190): its layers are
	// real, so only the document-kind check can refuse it.
	ambiguous = append([]byte(`{"manifests":[],`), raw[1:]...)

	for _, tag := range []string{"garbage", "ambiguous"} {
		s := newStore(t)
		_, err := mustNew(t, s, anonymous).Pull(context.Background(), host+"/demo:"+tag, images.DefaultPlatform(), nil)
		if !errors.Is(err, images.ErrInvalidImage) {
			t.Errorf("%s manifest: %v", tag, err)
		}
		t.Logf("refused: %v", err)
		assertClean(t, s)
	}
}

func TestPullOCIIndexSkipsAttestations(t *testing.T) {
	host := serve(t, nil)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	ids := map[string]digest.Digest{}
	for _, pl := range []v1.Platform{{OS: "unknown", Architecture: "unknown"}, {OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}} {
		img := mutate.MediaType(randomImage(t, 1), types.OCIManifestSchema1)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
		ids[pl.String()] = digestOf(t, img.ConfigName)
	}
	pushIndex(t, host+"/oci:1", idx)
	res, err := mustNew(t, newStore(t), anonymous).Pull(context.Background(), host+"/oci:1", images.Platform{OS: "linux", Architecture: "arm64"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.ID != ids["linux/arm64"].String() || res.Digest != digestOf(t, idx.Digest) {
		t.Errorf("pulled %s (repo digest %s), want %s", res.Image.ID, res.Digest, ids["linux/arm64"])
	}
}

// tokenAuth is a registry with Docker's token auth: requests need a
// bearer token, which /token hands out for user:pass.
func tokenAuth(host *string, user, pass string) func(http.Handler) http.Handler {
	const token = "t0k3n-for-test"
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
					http.Error(w, "bad credentials", http.StatusUnauthorized)
					return
				}
				fmt.Fprintf(w, `{"token":%q}`, token)
				return
			}
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, *host))
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}`, http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestPullTokenAuth(t *testing.T) {
	var host string
	host = serve(t, tokenAuth(&host, "berth", "tok-pw"))
	img := randomImage(t, 1)
	push(t, host+"/private:1", img, remote.WithAuth(&basicAuthn{"berth", "tok-pw"}))

	writeDockerConfig(t, host, "berth", "tok-pw")
	res, err := mustNew(t, newStore(t), Options{}).Pull(context.Background(), host+"/private:1", images.DefaultPlatform(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.ID != digestOf(t, img.ConfigName).String() {
		t.Errorf("pulled %s", res.Image.ID)
	}
	writeDockerConfig(t, host, "berth", "wrong-tok-pw")
	s := newStore(t)
	_, err = mustNew(t, s, Options{}).Pull(context.Background(), host+"/private:1", images.DefaultPlatform(), nil)
	if err == nil || strings.Contains(err.Error(), "wrong-tok-pw") {
		t.Fatalf("pull with a wrong password: %v", err)
	}
	t.Logf("refused: %v", err)
	assertClean(t, s)
}
