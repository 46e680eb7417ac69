// Package registry pulls images from registries (the Docker Registry HTTP
// API v2, OCI distribution) into berth's image store, with
// go-containerregistry for the protocol: token and basic auth, the
// node's Docker credentials, retries. It only downloads: each blob goes
// to the store's partial area, where an interrupted download is kept for
// the next attempt to continue, then, hashed whole to its digest, into an
// OCI image layout in the store's work area, which
// images.Store.ImportLayout adds, verifying it exactly as an imported
// OCI-layout archive, so there is one verifying, unpacking path.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/berth-project/berth/images"
)

// Media types a pull follows, besides the OCI ones.
const (
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	dockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// maxIndexDepth bounds nested indexes, as the import does.
const maxIndexDepth = 4

// layerJobs is how many blobs one pull downloads at once, and
// maxDownloads how many all the Puller's pulls download at once.
const (
	layerJobs    = 3
	maxDownloads = 6
)

// Progress hears about a pull's blob downloads. Calls for different blobs
// may come from different goroutines at once.
type Progress interface {
	// Start: the download of blob d of size bytes begins, or, when
	// present is true, is skipped because the store has it (no further
	// calls for d then).
	Start(d digest.Digest, size int64, present bool)
	// Add: n more bytes of d arrived.
	Add(d digest.Digest, n int64)
	// Done: d is complete (err nil) or failed.
	Done(d digest.Digest, err error)
}

// Options configure a Puller.
type Options struct {
	// Keychain finds credentials; when nil, the Config's credentials
	// file, then the node's Docker config.json (NodeKeychain), with the
	// credential helpers they name.
	Keychain authn.Keychain
	// Transport is the HTTP transport under the plain-HTTP guard;
	// remote.DefaultTransport when nil.
	Transport http.RoundTripper
	// Config holds mirrors and per-registry TLS settings (LoadConfig);
	// nil is none.
	Config *Config
	Log    *slog.Logger
}

// Puller pulls images into one store. Concurrent pulls of the same
// reference and platform share one download, and all its pulls together
// download at most maxDownloads blobs at once.
type Puller struct {
	store *images.Store
	kc    authn.Keychain
	rt    http.RoundTripper
	cfg   *Config
	log   *slog.Logger
	group singleflight.Group
	// downloads holds a token per blob download under way.
	downloads chan struct{}
}

// New returns a Puller for store.
func New(store *images.Store, o Options) (*Puller, error) {
	p := &Puller{store: store, kc: o.Keychain, cfg: o.Config, log: o.Log, downloads: make(chan struct{}, maxDownloads)}
	if p.cfg == nil {
		p.cfg = &Config{}
	}
	if p.kc == nil {
		p.kc = NodeKeychain
		if p.cfg.Credentials != "" {
			p.kc = authn.NewMultiKeychain(FileKeychain(p.cfg.Credentials), NodeKeychain)
		}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	next := o.Transport
	if next == nil {
		next = remote.DefaultTransport
	}
	next, err := p.cfg.transport(next)
	if err != nil {
		return nil, err
	}
	p.rt = guard{next: next, maxManifest: images.MaxManifestBytes, plain: p.cfg.insecure}
	return p, nil
}

// Result is what a pull did.
type Result struct {
	// Ref is the reference pulled, as the store keeps it.
	Ref   string
	Image images.Image
	// Digest is the digest of the manifest or index the reference named
	// (the repo digest).
	Digest digest.Digest
	// Downloaded counts the bytes fetched; blobs the store had are not.
	Downloaded int64
	Duration   time.Duration
	// Registry is the host the image came from: a mirror or the
	// reference's own registry.
	Registry string
}

// Pull fetches ref for platform plat and adds it to the store, under the
// reference and its repo digest (name@sha256:...). A call that joins a
// pull under way shares its result, and prog (which may be nil) hears
// nothing: it only follows a download this call starts.
func (p *Puller) Pull(ctx context.Context, ref string, plat images.Platform, prog Progress) (Result, error) {
	return p.PullWith(ctx, ref, plat, prog, nil)
}

// PullWith is Pull asking creds (a pod's imagePullSecrets), when not nil,
// before the Puller's keychain. Only pulls with the same credentials
// share a download.
func (p *Puller) PullWith(ctx context.Context, ref string, plat images.Platform, prog Progress, creds *DockerConfig) (Result, error) {
	t, err := parseRef(ref)
	if err != nil {
		return Result{}, err
	}
	kc, key := p.kc, t.store+" "+plat.String()
	if creds != nil {
		kc, key = authn.NewMultiKeychain(creds.Keychain(false), p.kc), key+" "+creds.ID()
	}
	ch := p.group.DoChan(key, func() (any, error) {
		// The download outlives one waiter's cancellation: others may
		// be waiting for it too.
		return p.pull(context.WithoutCancel(ctx), t, plat, prog, kc)
	})
	select {
	case <-ctx.Done():
		return Result{}, fmt.Errorf("pull %s: %w", t.store, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return Result{}, fmt.Errorf("pull %s: %w", t.store, r.Err)
		}
		return r.Val.(Result), nil
	}
}

func (p *Puller) pull(ctx context.Context, t target, plat images.Platform, prog Progress, kc authn.Keychain) (Result, error) {
	start := time.Now()
	rp, err := remote.NewPuller(remote.WithAuthFromKeychain(kc), remote.WithTransport(p.rt), remote.WithContext(ctx))
	if err != nil {
		return Result{}, err
	}
	eps, err := p.cfg.endpoints(t.remote.Context())
	if err != nil {
		return Result{}, err
	}
	var f *fetch
	var top ocispec.Descriptor
	imgs, err := p.store.ImportLayout(plat, func(dir string) error {
		var errs []error
		for i, ep := range eps {
			// A failed endpoint's blobs are not trusted by the next
			// (its partial downloads are continued, and verified whole).
			if err := os.RemoveAll(filepath.Join(dir, "blobs")); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o700); err != nil {
				return err
			}
			f = &fetch{ctx: ctx, rp: rp, repo: ep, store: p.store, plat: plat, prog: prog,
				budget: p.store.MaxBytes(), dir: dir, kc: kc, rt: p.rt, downloads: p.downloads, log: p.log}
			var ref name.Reference = ep.Tag(t.remote.Identifier())
			if _, ok := t.remote.(name.Digest); ok {
				ref = ep.Digest(t.remote.Identifier())
			}
			var err error
			if top, err = f.all(ref); err == nil {
				return writeLayout(dir, top, t.store)
			}
			if len(eps) == 1 {
				return err
			}
			errs = append(errs, fmt.Errorf("from %s: %w", ep.RegistryStr(), err))
			if ctx.Err() != nil {
				break
			}
			if i < len(eps)-1 {
				p.log.Warn("image pull from a registry failed, trying the next", "ref", t.store, "registry", ep.RegistryStr(),
					"next", eps[i+1].RegistryStr(), "err", err)
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return Result{}, err
	}
	if len(imgs) != 1 {
		return Result{}, fmt.Errorf("layout of one image gave %d: %w", len(imgs), images.ErrInvalidImage)
	}
	res := Result{Ref: t.store, Image: imgs[0], Digest: top.Digest, Downloaded: f.downloaded, Duration: time.Since(start),
		Registry: f.repo.RegistryStr()}
	p.log.Info("image pulled", "ref", t.store, "registry", res.Registry, "digest", top.Digest.String(), "id", res.Image.ID,
		"platform", plat.String(), "bytes", res.Downloaded, "duration", res.Duration)
	return res, nil
}

// fetch downloads one image's blobs into dir/blobs/sha256.
type fetch struct {
	ctx   context.Context
	rp    *remote.Puller
	repo  name.Repository
	store *images.Store
	plat  images.Platform
	prog  Progress
	dir   string
	// For the blob downloads: the keychain and transport their client
	// is made from, the Puller's download tokens.
	kc        authn.Keychain
	rt        http.RoundTripper
	downloads chan struct{}
	log       *slog.Logger

	mu         sync.Mutex
	client     *http.Client // made by the first blob download
	budget     int64        // bytes left of the store's per-import cap
	downloaded int64
}

// all fetches the document ref names, and everything under it for the
// platform, and returns its descriptor.
func (f *fetch) all(ref name.Reference) (ocispec.Descriptor, error) {
	raw, top, err := f.manifest(ref, nil)
	if err != nil {
		return top, err
	}
	desc := top
	for depth := 0; slices.Contains([]string{ocispec.MediaTypeImageIndex, dockerList}, desc.MediaType); depth++ {
		if depth == maxIndexDepth {
			return top, fmt.Errorf("more than %d nested indexes: %w", maxIndexDepth, images.ErrInvalidImage)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return top, fmt.Errorf("index %s: %w: %w", desc.Digest, images.ErrInvalidImage, err)
		}
		child, ok := f.plat.Choose(idx.Manifests)
		if !ok {
			return top, fmt.Errorf("index %s has no %s image (%s): %w", desc.Digest, f.plat, platforms(idx.Manifests), images.ErrUnsupported)
		}
		if raw, desc, err = f.manifest(f.repo.Digest(child.Digest.String()), &child); err != nil {
			return top, err
		}
	}
	if !slices.Contains([]string{ocispec.MediaTypeImageManifest, dockerManifest}, desc.MediaType) {
		return top, fmt.Errorf("%s has media type %q, not an image manifest or index (schema 1 and artifacts are not pulled): %w",
			desc.Digest, desc.MediaType, images.ErrUnsupported)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return top, fmt.Errorf("manifest %s: %w: %w", desc.Digest, images.ErrInvalidImage, err)
	}
	if m.Config.Size > images.MaxManifestBytes {
		return top, fmt.Errorf("config %s of %d bytes: %w", m.Config.Digest, m.Config.Size, images.ErrTooLarge)
	}
	if err := f.blob(f.ctx, m.Config, false); err != nil {
		return top, fmt.Errorf("config: %w", err)
	}
	g, ctx := errgroup.WithContext(f.ctx)
	g.SetLimit(layerJobs)
	seen := map[digest.Digest]bool{}
	for _, l := range m.Layers {
		// A blob listed twice (empty layers, say) is fetched once.
		if seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		g.Go(func() error {
			if err := f.blob(ctx, l, true); err != nil {
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			return nil
		})
	}
	return top, g.Wait()
}

// manifest fetches the manifest or index ref names into the layout. want,
// when set, is the descriptor that named it (digest and size to match).
func (f *fetch) manifest(ref name.Reference, want *ocispec.Descriptor) ([]byte, ocispec.Descriptor, error) {
	d, err := f.rp.Get(f.ctx, ref)
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return nil, ocispec.Descriptor{}, fmt.Errorf("fetch manifest %s from %s: %w (check the credentials for %s: the pod's imagePullSecrets, the registries config's credentials file, or config.json in $DOCKER_CONFIG or ~/.docker, which docker login writes)",
			ref.Identifier(), f.repo.RegistryStr(), err, f.repo.RegistryStr())
	}
	if err != nil {
		return nil, ocispec.Descriptor{}, fmt.Errorf("fetch manifest %s: %w", ref.Identifier(), err)
	}
	desc := ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: int64(len(d.Manifest))}
	if err := images.CheckDigest(desc.Digest); err != nil {
		return nil, desc, fmt.Errorf("manifest %s: %w", ref.Identifier(), err)
	}
	if got := digest.FromBytes(d.Manifest); got != desc.Digest {
		return nil, desc, fmt.Errorf("manifest %s hashes to %s, not %s: %w", ref.Identifier(), got, desc.Digest, images.ErrDigestMismatch)
	}
	if want != nil {
		if desc.Digest != want.Digest || desc.Size != want.Size {
			return nil, desc, fmt.Errorf("manifest %s is %s of %d bytes, index says %s of %d: %w",
				ref.Identifier(), desc.Digest, desc.Size, want.Digest, want.Size, images.ErrDigestMismatch)
		}
		if want.MediaType != "" {
			desc.MediaType = want.MediaType
		}
	}
	if err := os.WriteFile(f.blobPath(desc.Digest), d.Manifest, 0o600); err != nil {
		return nil, desc, err
	}
	return d.Manifest, desc, nil
}

// charge takes n bytes from the pull's budget.
func (f *fetch) charge(n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n > f.budget {
		return fmt.Errorf("image is larger than the store's cap of %d bytes per import: %w", f.store.MaxBytes(), images.ErrTooLarge)
	}
	f.budget -= n
	return nil
}

func (f *fetch) progress(fn func(Progress)) {
	if f.prog != nil {
		fn(f.prog)
	}
}

func (f *fetch) blobPath(d digest.Digest) string {
	return filepath.Join(f.dir, "blobs", "sha256", d.Encoded())
}

// countWriter reports a blob's bytes as they arrive.
type countWriter struct {
	f *fetch
	d digest.Digest
}

func (c countWriter) Write(p []byte) (int, error) {
	c.f.mu.Lock()
	c.f.downloaded += int64(len(p))
	c.f.mu.Unlock()
	c.f.progress(func(pr Progress) { pr.Add(c.d, int64(len(p))) })
	return len(p), nil
}

// writeLayout writes the layout's oci-layout and index.json: one entry,
// top, named ref.
func writeLayout(dir string, top ocispec.Descriptor, ref string) error {
	top.Annotations = map[string]string{"io.containerd.image.name": ref}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{top}}
	idx.SchemaVersion = 2
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), b, 0o600); err != nil {
		return err
	}
	b, err = json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ocispec.ImageLayoutFile), b, 0o600)
}

// platforms lists the platforms of an index's entries, for errors.
func platforms(descs []ocispec.Descriptor) string {
	var out []string
	for _, d := range descs {
		if p := d.Platform; p != nil && p.OS != "unknown" {
			out = append(out, images.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}.String())
		}
	}
	if len(out) == 0 {
		return "none listed"
	}
	return "it has " + fmt.Sprint(out)
}
