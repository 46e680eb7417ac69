package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/berth-project/berth/images"
)

// ErrPlainHTTP is returned for a plain-HTTP request to a registry that is
// not on this machine.
var ErrPlainHTTP = errors.New("plain HTTP refused")

// guard is the transport under go-containerregistry's auth and retry
// layers, so it sees every request, token requests and redirects too. It
// refuses plain HTTP except to loopback hosts and hosts the registries
// config sets insecure (go-containerregistry would
// also fall back to it for RFC 1918 addresses, where a network attacker
// could answer), and caps manifest responses at images.MaxManifestBytes
// before they are read into memory.
type guard struct {
	next http.RoundTripper
	// plain reports the hosts configured insecure, which may also be
	// reached over plain HTTP.
	plain       func(host string) bool
	maxManifest int64
}

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !isLoopback(req.URL.Host) && (g.plain == nil || !g.plain(req.URL.Host)) {
		return nil, fmt.Errorf("%s %s://%s%s: only registries on this machine (localhost, 127.0.0.0/8, ::1) and those set insecure in the registries config are reached over plain HTTP: %w",
			req.Method, req.URL.Scheme, req.URL.Host, req.URL.Path, ErrPlainHTTP)
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "/manifests/") || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	if resp.ContentLength > g.maxManifest {
		resp.Body.Close()
		return nil, fmt.Errorf("manifest %s is %d bytes, more than the %d allowed: %w", req.URL.Path, resp.ContentLength, g.maxManifest, images.ErrTooLarge)
	}
	resp.Body = &cappedBody{rc: resp.Body, left: g.maxManifest, what: "manifest " + req.URL.Path}
	return resp, nil
}

// cappedBody fails a read that goes past left bytes.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	what string
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, err := c.rc.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%s: more bytes than allowed: %w", c.what, images.ErrTooLarge)
		} else if err != nil {
			return 0, err
		}
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cappedBody) Close() error { return c.rc.Close() }
