package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/images"
)

// blob downloads a config or layer blob into the layout, unless it is a
// layer the store has. The bytes go first to the store's partial file for
// the digest, so that an interrupted download is continued by the next
// attempt, from this registry or another, when the registry serves byte
// ranges. At most desc.Size bytes are taken; the whole content, the kept
// bytes included, must hash to desc.Digest before it is moved into the
// layout.
func (f *fetch) blob(ctx context.Context, desc ocispec.Descriptor, layer bool) (err error) {
	if err := images.CheckDigest(desc.Digest); err != nil {
		return err
	}
	if desc.Size < 0 {
		return fmt.Errorf("blob %s has size %d: %w", desc.Digest, desc.Size, images.ErrInvalidImage)
	}
	if layer && f.store.HasBlob(desc.Digest) {
		f.progress(func(pr Progress) { pr.Start(desc.Digest, desc.Size, true) })
		return nil
	}
	// The whole size, kept bytes included: they are on the store's disk
	// too.
	if err := f.charge(desc.Size); err != nil {
		return err
	}
	f.progress(func(pr Progress) { pr.Start(desc.Digest, desc.Size, false) })
	defer f.progress(func(pr Progress) { pr.Done(desc.Digest, err) })
	select {
	case f.downloads <- struct{}{}:
		defer func() { <-f.downloads }()
	case <-ctx.Done():
		return ctx.Err()
	}
	dst := f.blobPath(desc.Digest)
	part, err := f.store.OpenPartial(desc.Digest)
	if errors.Is(err, images.ErrPartialBusy) {
		// Another pull is downloading the same blob: fetch it whole.
		out, err := os.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer out.Close()
		if _, err := f.download(ctx, desc, out, false); err != nil {
			return err
		}
		return out.Close()
	}
	if err != nil {
		return err
	}
	defer part.Close() // keeps what arrived, unless placed or discarded
	resumed, err := f.download(ctx, desc, part.File, true)
	if resumed && errors.Is(err, images.ErrDigestMismatch) {
		f.log.Warn("kept bytes of a blob download were wrong, downloading it again", "blob", desc.Digest.String(),
			"registry", f.repo.RegistryStr(), "err", err)
		_, err = f.download(ctx, desc, part.File, false)
	}
	if errors.Is(err, images.ErrDigestMismatch) {
		if derr := part.Discard(); derr != nil {
			return errors.Join(err, derr)
		}
		return err
	}
	if err != nil {
		return err
	}
	return part.Place(dst)
}

// download writes blob desc into file and checks that it hashes to the
// digest. With resume, the bytes file holds are hashed and, when they can
// be a prefix of the blob, only the rest is asked for; resumed says
// whether any were kept.
func (f *fetch) download(ctx context.Context, desc ocispec.Descriptor, file *os.File, resume bool) (resumed bool, err error) {
	v := desc.Digest.Verifier()
	var have int64
	if resume {
		if have, err = f.keptPrefix(desc, file, v); err != nil {
			return false, err
		}
	}
	if have == 0 {
		if err := file.Truncate(0); err != nil {
			return false, err
		}
	}
	var n int64
	if have < desc.Size {
		body, from, err := f.get(ctx, desc, have)
		if err != nil {
			return have > 0, err
		}
		defer body.Close()
		if from != have { // the registry sends it all
			f.log.Info("registry does not serve byte ranges, downloading the blob from its start", "blob", desc.Digest.String(),
				"registry", f.repo.RegistryStr(), "kept", have)
			if err := file.Truncate(0); err != nil {
				return false, err
			}
			v, have = desc.Digest.Verifier(), 0
		} else if have > 0 {
			f.log.Info("continuing a blob download", "blob", desc.Digest.String(), "registry", f.repo.RegistryStr(), "from", have)
			f.progress(func(pr Progress) { pr.Add(desc.Digest, have) })
		}
		if _, err := file.Seek(have, io.SeekStart); err != nil {
			return have > 0, err
		}
		n, err = io.Copy(io.MultiWriter(file, v, countWriter{f, desc.Digest}), io.LimitReader(body, desc.Size-have+1))
		if err != nil && have+n <= desc.Size {
			return have > 0, fmt.Errorf("fetch blob: %w", err)
		}
	}
	switch total := have + n; {
	case total > desc.Size:
		return have > 0, fmt.Errorf("registry sent more than the %d bytes the manifest says: %w", desc.Size, images.ErrDigestMismatch)
	case total < desc.Size:
		return have > 0, fmt.Errorf("registry sent %d bytes, the manifest says %d: %w", total, desc.Size, images.ErrDigestMismatch)
	case !v.Verified():
		return have > 0, fmt.Errorf("registry sent content that does not hash to %s: %w", desc.Digest, images.ErrDigestMismatch)
	}
	return have > 0, nil
}

// keptPrefix hashes into v the bytes file holds and returns how many; 0
// (nothing kept) when they are more than the blob's size or cannot be
// read.
func (f *fetch) keptPrefix(desc ocispec.Descriptor, file *os.File, v io.Writer) (int64, error) {
	info, err := file.Stat()
	if err != nil {
		return 0, err
	}
	have := info.Size()
	if have == 0 || have > desc.Size {
		return 0, nil
	}
	if _, err := io.Copy(v, io.NewSectionReader(file, 0, have)); err != nil {
		f.log.Warn("kept bytes of a blob download unreadable, downloading it again", "blob", desc.Digest.String(), "err", err)
		return 0, nil
	}
	return have, nil
}

// get asks the registry for blob desc from byte from on, and returns the
// body and the offset it starts at: from when the registry answers the
// range, 0 when it sends the whole blob.
func (f *fetch) get(ctx context.Context, desc ocispec.Descriptor, from int64) (io.ReadCloser, int64, error) {
	c, err := f.httpClient()
	if err != nil {
		return nil, 0, fmt.Errorf("fetch blob: %w", err)
	}
	u := url.URL{Scheme: f.repo.Scheme(), Host: f.repo.RegistryStr(), Path: "/v2/" + f.repo.RepositoryStr() + "/blobs/" + desc.Digest.String()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	if from > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch blob: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp.Body, 0, nil
	case resp.StatusCode == http.StatusPartialContent && from > 0:
		if start, ok := contentRange(resp.Header.Get("Content-Range"), desc.Size); ok && start == from {
			return resp.Body, from, nil
		}
		resp.Body.Close()
		return nil, 0, fmt.Errorf("registry answered the range from byte %d with Content-Range %q: %w",
			from, resp.Header.Get("Content-Range"), images.ErrDigestMismatch)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && from > 0:
		resp.Body.Close()
		// The blob is shorter than the kept bytes: they are not its.
		return nil, 0, fmt.Errorf("registry refused the range from byte %d: %w", from, images.ErrDigestMismatch)
	}
	defer resp.Body.Close()
	return nil, 0, fmt.Errorf("fetch blob: %w", transport.CheckError(resp, http.StatusOK))
}

// contentRange parses a Content-Range "bytes START-END/TOTAL" that runs to
// the end of a blob of size bytes (TOTAL may be "*") and returns START.
func contentRange(h string, size int64) (int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	rng, total, ok := strings.Cut(spec, "/")
	if !ok || (total != "*" && total != strconv.FormatInt(size, 10)) {
		return 0, false
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || start > end || end != size-1 {
		return 0, false
	}
	return start, true
}

// httpClient returns the client for the fetch's blob downloads: the
// Puller's transport with retries, authenticated for pulls from the
// repository with the credentials the keychain finds for it.
func (f *fetch) httpClient() (*http.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client != nil {
		return f.client, nil
	}
	auth, err := f.kc.Resolve(f.repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", f.repo.RegistryStr(), err)
	}
	rt, err := transport.NewWithContext(f.ctx, f.repo.Registry, auth, transport.NewRetry(f.rt), []string{f.repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	f.client = &http.Client{Transport: rt}
	return f.client, nil
}
