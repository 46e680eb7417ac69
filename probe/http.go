package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/manifests"
)

// maxBody is how much of a response body an http probe reads (the
// kubelet's 10 KiB); the rest is left unread.
const maxBody = 10 << 10

// maxRedirects is how many same-host redirects an http probe follows.
const maxRedirects = 10

// maxHeader is how much of a response's status line and headers an http
// probe or hook reads (net/http's DefaultMaxHeaderBytes): the server is the
// container's, and headers without end must not grow the daemon's memory.
const maxHeader = http.DefaultMaxHeaderBytes

// errHeaderTooLong ends an exchange whose response headers exceed maxHeader.
var errHeaderTooLong = fmt.Errorf("server response headers exceeded %d bytes; aborted", maxHeader)

type httpChecker struct {
	action manifests.HTTPGetAction
	target Target

	// first is the probe's request, the same at every run, built and
	// written out once (prepare).
	once  sync.Once
	first *preparedRequest
	err   error
}

// preparedRequest is a request and its bytes on the wire.
type preparedRequest struct {
	req  *http.Request
	wire []byte
}

// prepare builds the probe's request, or the error of a probe that cannot
// send one ("httpGet.port: ..."), once: its inputs, the action and the
// target, do not change.
func (c *httpChecker) prepare() (*preparedRequest, error) {
	c.once.Do(func() {
		port, err := ResolvePort(c.action.Port, c.target.Ports)
		if err != nil {
			c.err = fmt.Errorf("httpGet.port: %w", err)
			return
		}
		req, err := newHTTPRequest(context.Background(), c.action, c.target, port)
		if err != nil {
			c.err = err
			return
		}
		var b bytes.Buffer
		if err := req.Write(&b); err != nil {
			c.err = fmt.Errorf("httpGet: %w", err)
			return
		}
		c.first = &preparedRequest{req: req, wire: b.Bytes()}
	})
	return c.first, c.err
}

func newHTTPChecker(a manifests.HTTPGetAction, t Target) *httpChecker {
	return &httpChecker{action: a, target: t}
}

// errAwaitingHeaders is the error of a probe whose timeout passed before
// the response's headers came, worded as the kubelet's (net/http's).
var errAwaitingHeaders = errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")

// Check sends the GET. 2xx is a success, 3xx (a redirect not followed) a
// warning, anything else a failure; a request that cannot be sent or
// answered fails with the client's error.
//
// Each request is one exchange on a connection of its own, written and
// read here (no net/http Transport, so no goroutines per connection):
// the request with "Connection: close", then the response's headers and
// at most maxBody of its body. Redirects to the same host (any port) are
// followed up to maxRedirects; one to another host ends the probe with its
// 3xx response, as the kubelet's client does.
func (c *httpChecker) Check(ctx context.Context, timeout time.Duration) (Result, string) {
	first, err := c.prepare()
	if err != nil {
		return Unknown, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.result(c.follow(ctx, first.req, first.wire))
}

// result is the probe's result and output for the last request sent, its
// response, or the Location redirects stopped at, or the error.
func (c *httpChecker) result(req *http.Request, res *http.Response, body []byte, stoppedAt string, err error) (Result, string) {
	switch {
	case err != nil:
		var readErr *bodyError
		if errors.As(err, &readErr) {
			return Unknown, err.Error()
		}
		return Failure, (&url.Error{Op: "Get", URL: req.URL.Redacted(), Err: err}).Error()
	case stoppedAt != "":
		return Failure, (&url.Error{Op: "Get", URL: stoppedAt, Err: fmt.Errorf("stopped after %d redirects", maxRedirects)}).Error()
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return Success, string(body)
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return Warning, fmt.Sprintf("Probe terminated redirects, Response body: %s", body)
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode)
}

// follow exchanges req and follows the redirects to its host (any port),
// up to maxRedirects: it returns the last request sent and its response,
// or, past maxRedirects, the Location it stopped at. A redirect to another
// host ends it with that 3xx response, as the kubelet's client does. wire
// is req written out, when the caller has it already (nil otherwise).
func (c *httpChecker) follow(ctx context.Context, req *http.Request, wire []byte) (last *http.Request, res *http.Response, body []byte, stoppedAt string, err error) {
	res, body, err = c.exchange(ctx, req, wire)
	return c.onward(ctx, req, res, body, err)
}

// onward goes on from the first exchange of follow (req's response res
// with its body, or its error): it exchanges again only for a redirect to
// be followed.
func (c *httpChecker) onward(ctx context.Context, req *http.Request, res *http.Response, body []byte, err error) (last *http.Request, _ *http.Response, _ []byte, stoppedAt string, _ error) {
	host := req.URL.Hostname()
	for redirects := 0; ; redirects++ {
		if err != nil {
			return req, nil, nil, "", err
		}
		next, loc := redirect(req, res)
		if next == nil || next.URL.Hostname() != host {
			return req, res, body, "", nil
		}
		if redirects+1 >= maxRedirects {
			return req, res, body, loc, nil
		}
		req = next
		res, body, err = c.exchange(ctx, req, nil)
	}
}

// followed says whether onward would exchange again after res, req's
// response: a redirect to req's host.
func followed(req *http.Request, res *http.Response) bool {
	next, _ := redirect(req, res)
	return next != nil && next.URL.Hostname() == req.URL.Hostname()
}

// bodyError is a failure to read a response's body, once its headers came.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read the response body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// exchange dials req's host (through the target's dialer), wraps the
// connection in TLS for https (unverified, as the kubelet's probes), writes
// req (wire, when not nil), and reads the response with at most maxBody of
// its body, all by ctx's deadline. The connection is closed before it
// returns.
func (c *httpChecker) exchange(ctx context.Context, req *http.Request, wire []byte) (*http.Response, []byte, error) {
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), map[string]string{"http": "80", "https": "443"}[req.URL.Scheme])
	}
	conn, err := c.target.Dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, timedOut(ctx, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if req.URL.Scheme == "https" {
		cfg := &tls.Config{InsecureSkipVerify: true}
		if net.ParseIP(req.URL.Hostname()) == nil {
			cfg.ServerName = req.URL.Hostname()
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, timedOut(ctx, err)
		}
		conn = tc
	}
	if wire != nil {
		_, err = conn.Write(wire)
	} else {
		err = req.Write(conn)
	}
	if err != nil {
		return nil, nil, timedOut(ctx, err)
	}
	res, b, err := readResponse(conn, req)
	if err != nil {
		var readErr *bodyError
		if !errors.As(err, &readErr) {
			err = timedOut(ctx, err)
		}
		return nil, nil, err
	}
	return res, b, nil
}

// readResponse reads req's response from r: its headers (at most
// maxHeader bytes) and at most maxBody of its body (a failure there is a
// *bodyError).
func readResponse(r io.Reader, req *http.Request) (*http.Response, []byte, error) {
	capped := &headerReader{r: r, left: maxHeader}
	br, _ := bufReaders.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReader(capped)
	} else {
		br.Reset(capped)
	}
	// The response's Body reads br: it is read here and never after.
	defer func() {
		br.Reset(nil)
		bufReaders.Put(br)
	}()
	res, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, nil, err
	}
	// The body is read through a LimitReader, and net/http bounds its
	// chunk lines and trailers: only the headers needed the cap.
	capped.left = -1
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, nil, &bodyError{err}
	}
	return res, b, nil
}

// bufReaders holds readResponse's buffered readers between responses.
var bufReaders sync.Pool

// headerReader reads r until left bytes were read, then fails with
// errHeaderTooLong; a negative left reads without a cap.
type headerReader struct {
	r    io.Reader
	left int
}

func (h *headerReader) Read(p []byte) (int, error) {
	if h.left < 0 {
		return h.r.Read(p)
	}
	if h.left == 0 {
		return 0, errHeaderTooLong
	}
	if len(p) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	h.left -= n
	return n, err
}

// timedOut is err, or errAwaitingHeaders when ctx's deadline passed (the
// connection's, set to ctx's, may pass a moment before ctx's own timer).
func timedOut(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return errAwaitingHeaders
	}
	return err
}

// redirect returns the request a redirect response res asks for (301,
// 302, 303, 307 and 308 with a Location, as Go's client follows them) and
// the Location as given; nil when res is no such redirect. The request
// keeps req's headers, and its Host header when the Location is relative.
func redirect(req *http.Request, res *http.Response) (*http.Request, string) {
	switch res.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, ""
	}
	loc := res.Header.Get("Location")
	if loc == "" {
		return nil, ""
	}
	u, err := req.URL.Parse(loc)
	if err != nil {
		return nil, ""
	}
	next := req.Clone(req.Context())
	next.URL = u
	if rel, err := url.Parse(loc); err != nil || rel.IsAbs() {
		next.Host = ""
	}
	return next, loc
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
	req.Close = true
	return req, nil
}
