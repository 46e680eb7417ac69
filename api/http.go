package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// The client speaks HTTP/1.1 itself, one request per connection, rather
// than through net/http: the lean CLI links this package for every
// verb, and net/http brings crypto/tls, x509 and HTTP/2 with it, whose
// package initialisation (0.3 to 0.4 ms) every CLI start would pay for a
// unix socket that never carries TLS. The daemon's side is net/http's
// server (server.go), which the lean build leaves out.

// HTTP status codes the client tells apart.
const (
	statusOK                 = 200
	statusNoContent          = 204
	statusSwitchingProtocols = 101
	statusBadRequest         = 400
	statusNotFound           = 404
	statusConflict           = 409
)

// response is the daemon's answer to one request. Body reads the rest of
// the answer; closing it closes the connection.
type response struct {
	StatusCode int
	Status     string // "404 Not Found"
	Header     textproto.MIMEHeader
	Body       io.ReadCloser
	// conn and r are the connection and what was read of it: an upgraded
	// connection (101) carries frames from here on. stop ends ctx's hold
	// on the connection.
	conn net.Conn
	r    *bufio.Reader
	stop func() bool
}

// upgraded hands over the connection of a 101 answer and what was read
// of it past the headers, free of ctx from now on; it fails when ctx
// ended during the handshake.
func (r *response) upgraded(ctx context.Context) (net.Conn, *bufio.Reader, error) {
	if !r.stop() && ctx.Err() != nil {
		r.conn.Close()
		return nil, nil, ctx.Err()
	}
	return r.conn, r.r, nil
}

// roundTrip sends method path (with header, no body) on a connection of
// its own, closed after the answer unless header names another
// Connection (an attach's Upgrade), and reads the answer's status and
// headers. Until the body is closed, ctx's end cuts the connection, so
// that a read of a streamed answer (logs -f) returns.
func (c *Client) roundTrip(ctx context.Context, method, path string, header map[string]string) (*response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, fmt.Errorf("talk to the berth daemon at %s (is `berth daemon` running? set --socket or BERTH_SOCKET): %w", c.socket, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*response, error) {
		if !stop() && ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		conn.Close()
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: berth\r\nUser-Agent: berth\r\n", method, path)
	if method != "GET" {
		req.WriteString("Content-Length: 0\r\n")
	}
	if _, ok := header["Connection"]; !ok {
		req.WriteString("Connection: close\r\n")
	}
	for k, v := range header {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return fail(err)
	}
	r := bufio.NewReader(conn)
	resp, err := readResponseHead(r)
	if err != nil {
		return fail(err)
	}
	resp.conn, resp.r, resp.stop = conn, r, stop
	body, err := bodyReader(resp)
	if err != nil {
		return fail(err)
	}
	resp.Body = &connBody{Reader: body, resp: resp}
	return resp, nil
}

// readResponseHead reads the status line and the headers from r, which
// keeps what follows them.
func readResponseHead(r *bufio.Reader) (*response, error) {
	tp := textproto.NewReader(r)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, fmt.Errorf("read the answer's status: %w", err)
	}
	proto, status, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	codeText, _, _ := strings.Cut(status, " ")
	code, err := strconv.Atoi(codeText)
	if err != nil || len(codeText) != 3 {
		return nil, fmt.Errorf("malformed status line %q", line)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("read the answer's headers: %w", err)
	}
	return &response{StatusCode: code, Status: status, Header: h}, nil
}

// bodyReader reads resp's body from what follows its head: chunked, of a
// Content-Length, or up to the connection's end (a request says
// Connection: close but for an upgrade, whose 101 has no body).
func bodyReader(resp *response) (io.Reader, error) {
	r := resp.r
	switch {
	case resp.StatusCode == statusSwitchingProtocols || resp.StatusCode == statusNoContent:
		return strings.NewReader(""), nil
	case strings.EqualFold(resp.Header.Get("Transfer-Encoding"), "chunked"):
		return &chunkedReader{r: r}, nil
	case resp.Header.Get("Content-Length") != "":
		n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("malformed Content-Length %q", resp.Header.Get("Content-Length"))
		}
		return io.LimitReader(r, n), nil
	}
	return r, nil
}

// connBody is a response's body; Close ends the connection.
type connBody struct {
	io.Reader
	resp *response
}

func (b *connBody) Close() error {
	b.resp.stop()
	return b.resp.conn.Close()
}

// chunkedReader decodes the chunked transfer coding (RFC 9112, section
// 7.1): chunk sizes in hex, extensions and trailers ignored.
type chunkedReader struct {
	r    *bufio.Reader
	left int64 // bytes left in the current chunk
	done bool
}

// maxChunkLine bounds a chunk's size line and a trailer line.
const maxChunkLine = 4096

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if err := c.nextChunk(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		err = c.crlf()
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// nextChunk reads a chunk's size line; the last chunk (size 0) is
// followed by trailers and an empty line.
func (c *chunkedReader) nextChunk() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	size, _, _ := strings.Cut(line, ";")
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("malformed chunk size %q", line)
	}
	if n > 0 {
		c.left = n
		return nil
	}
	for {
		trailer, err := c.line()
		if err != nil {
			return err
		}
		if trailer == "" {
			c.done = true
			return nil
		}
	}
}

// line reads one CRLF-terminated line, without the CRLF.
func (c *chunkedReader) line() (string, error) {
	var b []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxChunkLine {
			return "", errors.New("chunk line too long")
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// crlf reads the CRLF that ends a chunk's data.
func (c *chunkedReader) crlf() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	if line != "" {
		return errors.New("malformed chunk: data past its size")
	}
	return nil
}
