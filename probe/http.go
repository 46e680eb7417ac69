package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/manifests"
)

// maxBody is how much of a response body an http probe reads (the
// kubelet's 10 KiB); the rest is left unread.
const maxBody = 10 << 10

// maxRedirects is how many same-host redirects an http probe follows.
const maxRedirects = 10

type httpChecker struct {
	action    manifests.HTTPGetAction
	target    Target
	transport *http.Transport
}

func newHTTPChecker(a manifests.HTTPGetAction, t Target) *httpChecker {
	return &httpChecker{action: a, target: t, transport: &http.Transport{
		DialContext: t.Dialer.DialContext,
		// As the kubelet: a probe checks that the server answers, not
		// who it is.
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives:  true,
		DisableCompression: true,
		Proxy:              nil, // never a proxy from the daemon's environment
	}}
}

// Check sends the GET. 2xx is a success, 3xx (a redirect not followed) a
// warning, anything else a failure; a request that cannot be sent or
// answered fails with the client's error.
func (c *httpChecker) Check(ctx context.Context, timeout time.Duration) (Result, string) {
	port, err := ResolvePort(c.action.Port, c.target.Ports)
	if err != nil {
		return Unknown, fmt.Sprintf("httpGet.port: %v", err)
	}
	req, err := newHTTPRequest(ctx, c.action, c.target, port)
	if err != nil {
		return Unknown, err.Error()
	}
	client := &http.Client{Transport: c.transport, Timeout: timeout, CheckRedirect: sameHostRedirects}
	res, err := client.Do(req)
	if err != nil {
		return Failure, err.Error()
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return Unknown, fmt.Sprintf("read the response body: %v", err)
	}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return Success, string(b)
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return Warning, fmt.Sprintf("Probe terminated redirects, Response body: %s", b)
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode)
}

// sameHostRedirects follows redirects to the same host (any port) up to
// maxRedirects, and stops at one to another host, whose 3xx response is
// then the probe's answer: the kubelet's rule, so that a probe never
// wanders off the pod.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}

// newHTTPRequest builds the probe's GET as the kubelet does: the scheme
// lower-cased (http by default), the host defaulting to the pod's IP, the
// path as given, the headers as given, then User-Agent and Accept: */*
// unless the probe sets them (an empty Accept removes it), and a Host
// header taken as the request's host.
func newHTTPRequest(ctx context.Context, a manifests.HTTPGetAction, t Target, port int) (*http.Request, error) {
	scheme := strings.ToLower(a.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	host := a.Host
	if host == "" {
		host = t.PodIP
	}
	if host == "" {
		return nil, errors.New("httpGet.host: empty and the pod has no IP")
	}
	u, err := url.Parse(a.Path)
	if err != nil {
		// A path url.Parse refuses is sent as it is, as the kubelet does.
		u = &url.URL{Path: a.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("httpGet: %w", err)
	}
	h := http.Header{}
	for _, hh := range a.HTTPHeaders {
		h.Add(hh.Name, hh.Value)
	}
	if _, ok := h["User-Agent"]; !ok {
		h.Set("User-Agent", t.UserAgent)
	}
	if _, ok := h["Accept"]; !ok {
		h.Set("Accept", "*/*")
	} else if h.Get("Accept") == "" {
		h.Del("Accept")
	}
	req.Header = h
	req.Host = h.Get("Host")
	return req, nil
}
