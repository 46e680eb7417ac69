package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"

	"github.com/berth-project/berth/manifests"
)

type grpcChecker struct {
	action manifests.GRPCAction
	target Target
}

// Check calls grpc.health.v1.Health/Check on the pod's IP over cleartext
// HTTP/2 (h2c, as the kubelet's probe without TLS): SERVING is a success,
// any other status, gRPC error or connection failure a failure, worded as
// the kubelet's.
func (c *grpcChecker) Check(ctx context.Context, timeout time.Duration) (Result, string) {
	if c.action.Port < 1 || c.action.Port > 65535 {
		return Unknown, fmt.Sprintf("grpc.port: %d is out of range 1-65535", c.action.Port)
	}
	service := ""
	if c.action.Service != nil {
		service = *c.action.Service
	}
	addr := net.JoinHostPort(c.target.PodIP, strconv.Itoa(int(c.action.Port)))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	conn, err := c.target.Dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Failure, fmt.Sprintf("timeout: failed to connect service %q within %v: %v", addr, timeout, err)
		}
		return Failure, fmt.Sprintf("error: failed to connect service at %q: %v", addr, err)
	}
	defer conn.Close()
	status, err := healthCheck(ctx, conn, addr, service, c.target.UserAgent)
	var se *statusError
	switch {
	case errors.As(err, &se) && se.code == codeUnimplemented:
		return Failure, fmt.Sprintf("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): %s", se.msg)
	case errors.As(err, &se) && se.code == codeDeadlineExceeded, err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Failure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout)
	case err != nil:
		return Failure, fmt.Sprintf("error: health rpc probe failed: %v", err)
	case status != serving:
		return Failure, fmt.Sprintf("service unhealthy (responded with %q)", status)
	}
	return Success, "service healthy"
}

// healthCheck makes the one call over conn and returns the status, or the
// call's error (a *statusError for a non-OK gRPC status).
func healthCheck(ctx context.Context, conn net.Conn, addr, service, userAgent string) (servingStatus, error) {
	tr := &http2.Transport{AllowHTTP: true, DisableCompression: true}
	cc, err := tr.NewClientConn(conn)
	if err != nil {
		return 0, err
	}
	defer cc.Close()
	frame := requestFrame(service)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+healthCheckPath, bytes.NewReader(frame))
	if err != nil {
		return 0, err
	}
	req.ContentLength = int64(len(frame))
	req.Header = http.Header{
		"Content-Type": {"application/grpc"},
		"Te":           {"trailers"},
		"User-Agent":   {userAgent},
	}
	if deadline, ok := ctx.Deadline(); ok {
		req.Header.Set("Grpc-Timeout", grpcTimeout(time.Until(deadline)))
	}
	res, err := cc.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, &statusError{httpStatusCode(res.StatusCode),
			fmt.Sprintf("unexpected HTTP status code received from server: %d (%s)", res.StatusCode, http.StatusText(res.StatusCode))}
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/grpc") {
		return 0, &statusError{codeInternal, fmt.Sprintf("unexpected content-type %q", ct)}
	}
	// A trailers-only response (an error without a message) carries the
	// status in its headers.
	if err, ok := parseStatus(res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message")); ok {
		if err == nil {
			err = &statusError{codeInternal, "response has status OK and no message"}
		}
		return 0, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 5+maxMessage+1))
	if err != nil {
		return 0, err
	}
	err, ok := parseStatus(res.Trailer.Get("Grpc-Status"), res.Trailer.Get("Grpc-Message"))
	switch {
	case !ok:
		return 0, &statusError{codeInternal, "server closed the stream without sending trailers"}
	case err != nil:
		return 0, err
	}
	return parseResponseFrame(body)
}
