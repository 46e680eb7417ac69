package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// newJob returns the batcher's job for a connection to host:port through
// dialer, false when the batcher does not run it: a dialer other than a
// pod's namespace, or a host that is a name (resolved by the daemon's
// resolver on the checker's own path) or an address Dial refuses.
func newJob(ctx context.Context, dialer Dialer, host string, port int, timeout time.Duration) (*exchangeJob, bool) {
	d, ok := dialer.(*NetnsDialer)
	if !ok {
		return nil, false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, false
	}
	ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
	family, sa, err := sockaddr("tcp", ap)
	if err != nil {
		return nil, false
	}
	return &exchangeJob{d: d, family: family, sa: sa, raddr: net.TCPAddrFromAddrPort(ap),
		deadline: time.Now().Add(timeout), ctx: ctx}, true
}

// Start runs the probe on the batcher (see batcher) when it can: scheme
// http to an IP address in the pod's namespace. The response is read and
// judged as Check does; a redirect to be followed goes on from there on a
// goroutine of its own, as Check would.
func (c *httpChecker) Start(ctx context.Context, timeout time.Duration, done func(Result, string)) bool {
	first, err := c.prepare()
	if err != nil || first.req.URL.Scheme != "http" {
		return false
	}
	port, err := strconv.Atoi(first.req.URL.Port())
	if err != nil {
		return false
	}
	j, ok := newJob(ctx, c.target.Dialer, first.req.URL.Hostname(), port, timeout)
	if !ok {
		return false
	}
	req := first.req
	j.request = first.wire
	// The last parse of what was read, kept for done.
	var res *http.Response
	var body []byte
	var perr error
	j.complete = func(data []byte, end error) bool {
		res, body, perr = readResponse(&dataReader{data: data, end: end}, req)
		return !errors.Is(perr, errMore)
	}
	deadline := j.deadline
	j.done = func(data []byte, end, err error) {
		switch {
		case err != nil:
			done(c.result(req, nil, nil, "", timedOut(ctx, err)))
			return
		case end != nil:
			j.complete(data, end)
		}
		if perr != nil {
			var readErr *bodyError
			if !errors.As(perr, &readErr) {
				perr = timedOut(ctx, perr)
			}
			done(c.result(req, nil, nil, "", perr))
			return
		}
		if !followed(req, res) {
			done(c.result(c.onward(ctx, req, res, body, nil)))
			return
		}
		go func() {
			ctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			done(c.result(c.onward(ctx, req, res, body, nil)))
		}()
	}
	batch.submit(j)
	return true
}

// Start runs the probe on the batcher when its host is an IP address in
// the pod's namespace: connected is a success, anything else a failure
// with the dial's error, as Check says them.
func (c *tcpChecker) Start(ctx context.Context, timeout time.Duration, done func(Result, string)) bool {
	port, err := ResolvePort(c.action.Port, c.target.Ports)
	if err != nil {
		return false
	}
	host := c.action.Host
	if host == "" {
		host = c.target.PodIP
	}
	j, ok := newJob(ctx, c.target.Dialer, host, port, timeout)
	if !ok {
		return false
	}
	j.done = func(_ []byte, _, err error) {
		if err != nil {
			done(Failure, err.Error())
			return
		}
		done(Success, "")
	}
	batch.submit(j)
	return true
}

// dataReader reads data, then returns end, or errMore when end is nil.
type dataReader struct {
	data []byte
	end  error
}

func (r *dataReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.end == nil {
			return 0, errMore
		}
		return 0, r.end
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}
