package infra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ErrRemote wraps an error the infra reported for a request.
var ErrRemote = errors.New("infra")

// ErrUnsupported is a request the infra is too old to know: it runs an
// older protocol version (pods started before a berth upgrade keep their
// infra).
var ErrUnsupported = errors.New("not supported by this infra")

// Client talks to one pod's infra. It holds no connection: every call
// dials, so a Client survives an infra restart of the daemon side and
// several calls (a Status during a long Stop) can run at once.
// The infra's protocol version comes back in every PodStatus.
//
// Every call has a deadline, the caller's or else its own (CallTimeout;
// Stop: its grace period plus CallTimeout; Start: StartReplyWait plus
// CallTimeout): an infra that stops answering fails the call, never holds
// its caller.
type Client struct {
	socket string
	// timeout is CallTimeout; tests shorten it.
	timeout time.Duration
}

// Deadlines of a Client's calls.
const (
	// CallTimeout bounds a call whose answer the infra has at hand.
	CallTimeout = 5 * time.Second
	// StartReplyWait is how long the infra lets a Start request wait for
	// the first containers' starts (they take milliseconds, and their
	// timings go back with the answer); an init stage that hangs is the
	// infra's to handle, never the daemon's to wait for.
	StartReplyWait = 3 * time.Second
)

// NewClient returns a Client for socket without talking to it yet; the
// first call says whether an infra answers.
// This is also how the daemon re-attaches to a running pod.
func NewClient(socket string) *Client { return &Client{socket: socket, timeout: CallTimeout} }

// Start asks the infra to run the pod's containers (those given here, or
// else those of the launch config); it returns once the first ones were
// started. A repeated Start is a no-op.
//
// ready, when not nil, is the launcher's wait for an infra still starting
// (Launching.Wait): the request is sent at once to the socket the
// launcher made, where it waits until the infra serves, and the reply is
// waited for from when ready returned. ready's failure (the infra did not
// start) is Start's.
func (c *Client) Start(ctx context.Context, ready func() error, inits, ctrs []ContainerConfig) (PodStatus, error) {
	resp, err := c.callWhenReady(ctx, ready, StartReplyWait+c.timeout, Request{Op: OpStart, InitContainers: inits, Containers: ctrs})
	return statusOf(resp), err
}

// Env returns the environment container ctr's current run was started
// with: what `berth exec` gives its process, as Kubernetes does, even after
// a ConfigMap or Secret it came from changed. It wraps ErrUnsupported for
// an infra of protocol version 1.
func (c *Client) Env(ctx context.Context, ctr string) ([]string, error) {
	resp, err := c.call(ctx, c.timeout, Request{Op: OpEnv, Container: ctr})
	if err != nil && olderThan(resp, 2) {
		return nil, fmt.Errorf("environment of container %s: infra protocol %d: %w", ctr, resp.Version, ErrUnsupported)
	}
	return resp.Env, err
}

// SetEnv sets the environment the named containers get from their next
// run on (a restart), as the kubelet computes a restarted container's
// environment afresh; running processes keep theirs. It wraps
// ErrUnsupported for an infra older than protocol version 3.
func (c *Client) SetEnv(ctx context.Context, envs map[string][]string) error {
	resp, err := c.call(ctx, c.timeout, Request{Op: OpSetEnv, Envs: envs})
	if err != nil && olderThan(resp, 3) {
		return fmt.Errorf("set environment: infra protocol %d: %w", resp.Version, ErrUnsupported)
	}
	return err
}

// Kill stops the current run of container ctr: SIGTERM, SIGKILL after
// grace, with a Killing event saying why (message). The exit is recorded as
// any other and the pod's restart policy, with its back-off, decides what
// comes next. It returns once the signal is sent, not when the run ended.
// It wraps ErrUnsupported for an infra older than protocol version 5.
func (c *Client) Kill(ctx context.Context, ctr string, grace time.Duration, message string) error {
	resp, err := c.call(ctx, c.timeout, Request{Op: OpKill, Container: ctr, GraceMillis: grace.Milliseconds(), Message: message})
	if err != nil && olderThan(resp, 5) {
		return fmt.Errorf("kill container %s: infra protocol %d: %w", ctr, resp.Version, ErrUnsupported)
	}
	return err
}

// Attach opens an attach session to container ctr's current run: the
// returned connection then carries internal/attachio frames, the run's
// output from now on, and the caller's input with stdin, until the run
// ends (the infra closes it) or the caller closes it. stdin and tty ask for
// input and the container's terminal; the infra refuses them when the
// container's spec has no stdin or tty (ErrAttachRefused). The session itself has no deadline; the answer has ctx's or
// CallTimeout. It wraps ErrUnsupported for an infra older than protocol
// version 6.
func (c *Client) Attach(ctx context.Context, ctr string, stdin, tty bool) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	var resp Response
	err = writeFrame(conn, Request{Version: ProtocolVersion, Op: OpAttach, Container: ctr, Stdin: stdin, TTY: tty})
	if err == nil {
		err = readFrame(conn, &resp)
	}
	if !stop() {
		err = errors.Join(err, ctx.Err())
	}
	switch {
	case err != nil:
		conn.Close()
		return nil, fmt.Errorf("infra %s %s: %w", c.socket, OpAttach, err)
	case resp.Error != "" && olderThan(resp, 6):
		conn.Close()
		return nil, fmt.Errorf("attach to container %s: infra protocol %d: %w", ctr, resp.Version, ErrUnsupported)
	case resp.Error != "":
		conn.Close()
		if why, ok := strings.CutPrefix(resp.Error, ErrAttachRefused.Error()+": "); ok {
			return nil, fmt.Errorf("%w: %s", ErrAttachRefused, why)
		}
		return nil, fmt.Errorf("%w %s %s: %s", ErrRemote, c.socket, OpAttach, resp.Error)
	}
	return conn, nil
}

// Started tells the infra that the startupProbe of sidecar ctr passed for
// its run that began at run: the init containers after it may start. It
// wraps ErrUnsupported for an infra older than protocol version 7.
func (c *Client) Started(ctx context.Context, ctr string, run time.Time) error {
	resp, err := c.call(ctx, c.timeout, Request{Op: OpStarted, Container: ctr, Run: run})
	if err != nil && olderThan(resp, 7) {
		return fmt.Errorf("sidecar %s started: infra protocol %d: %w", ctr, resp.Version, ErrUnsupported)
	}
	return err
}

// PreStopped tells the infra that the preStop hook of sidecar ctr, whose
// run that began at run waits for it at the pod's end (PreStop), ended:
// the sidecar gets its stop signal. It wraps ErrUnsupported for an infra
// older than protocol version 12, which never waits for one.
func (c *Client) PreStopped(ctx context.Context, ctr string, run time.Time) error {
	resp, err := c.call(ctx, c.timeout, Request{Op: OpPreStopped, Container: ctr, Run: run})
	if err != nil && olderThan(resp, 12) {
		return fmt.Errorf("sidecar %s preStop hook ended: infra protocol %d: %w", ctr, resp.Version, ErrUnsupported)
	}
	return err
}

// HoldRestarts makes the infra restart no container from now on (a Stop
// follows, once the daemon ran the pod's preStop hooks). It wraps
// ErrUnsupported for an infra older than protocol version 9.
func (c *Client) HoldRestarts(ctx context.Context) error {
	resp, err := c.call(ctx, c.timeout, Request{Op: OpHoldRestarts})
	if err != nil && olderThan(resp, 9) {
		return fmt.Errorf("hold restarts: infra protocol %d: %w", resp.Version, ErrUnsupported)
	}
	return err
}

// Update restarts the containers ctrs name with these definitions (their
// spec changed), each stopped within grace, and returns once their new
// runs started; a container whose definition is already the one given is
// left alone, so an Update may be repeated. It wraps ErrUnsupported for
// an infra older than protocol version 8: the pod must be replaced.
func (c *Client) Update(ctx context.Context, ctrs []ContainerConfig, grace time.Duration) (PodStatus, error) {
	resp, err := c.call(ctx, grace+StartReplyWait+c.timeout, Request{Op: OpUpdate, Containers: ctrs, GraceMillis: grace.Milliseconds()})
	if err != nil && olderThan(resp, 8) {
		return PodStatus{}, fmt.Errorf("update containers: infra protocol %d: %w", resp.Version, ErrUnsupported)
	}
	return statusOf(resp), err
}

// Watch calls fn with the pod's status at once, then again each time a
// container's run starts or ends, a sidecar's Started changes or the pod
// begins stopping, on one connection, until ctx ends or the stream breaks
// (the infra exited), and returns why. fn runs on the caller's goroutine;
// while it runs, the infra keeps only the latest status for it. The first
// status has ctx's deadline or CallTimeout; the stream has none. It wraps
// ErrUnsupported for an infra older than protocol version 10.
func (c *Client) Watch(ctx context.Context, fn func(PodStatus)) error {
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.dial(dctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	wrap := func(err error) error {
		return fmt.Errorf("infra %s %s: %w", c.socket, OpWatch, errors.Join(ctx.Err(), err))
	}
	deadline, _ := dctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return wrap(err)
	}
	if err := writeFrame(conn, Request{Version: ProtocolVersion, Op: OpWatch}); err != nil {
		return wrap(err)
	}
	for first := true; ; first = false {
		var resp Response
		if err := readFrame(conn, &resp); err != nil {
			return wrap(err)
		}
		switch {
		case resp.Error != "" && olderThan(resp, 10):
			return fmt.Errorf("watch: infra protocol %d: %w", resp.Version, ErrUnsupported)
		case resp.Error != "":
			return fmt.Errorf("%w %s %s: %s", ErrRemote, c.socket, OpWatch, resp.Error)
		}
		if first {
			// From now on only ctx ends the stream. Cleared after
			// ctx's AfterFunc may have set it: look at ctx again.
			if err := conn.SetDeadline(time.Time{}); err != nil {
				return wrap(err)
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("infra %s %s: %w", c.socket, OpWatch, err)
			}
		}
		fn(statusOf(resp))
	}
}

// olderThan reports whether resp came from an infra of a protocol version
// before v, which refuses the ops it does not know.
func olderThan(resp Response, v int) bool { return resp.Version > 0 && resp.Version < v }

// Status returns the pod's status.
func (c *Client) Status(ctx context.Context) (PodStatus, error) {
	resp, err := c.call(ctx, c.timeout, Request{Op: OpStatus})
	return statusOf(resp), err
}

// Stop sends SIGTERM to every container, SIGKILL to those still running
// after grace, stops all restarts, and returns when no container runs.
func (c *Client) Stop(ctx context.Context, grace time.Duration) error {
	_, err := c.call(ctx, grace+c.timeout, Request{Op: OpStop, GraceMillis: grace.Milliseconds()})
	return err
}

// Shutdown makes the infra exit after replying (containers still running
// are killed first). It is meant to follow Stop.
func (c *Client) Shutdown(ctx context.Context) error {
	_, err := c.call(ctx, c.timeout, Request{Op: OpShutdown})
	return err
}

// statusOf is the pod status a response carries, or the zero status.
func statusOf(resp Response) PodStatus {
	if resp.Status == nil {
		return PodStatus{}
	}
	return *resp.Status
}

// call does one request/response exchange on a fresh connection, within
// timeout (or ctx's earlier deadline). The response is returned with an
// error the infra reported too.
func (c *Client) call(ctx context.Context, timeout time.Duration, req Request) (Response, error) {
	return c.callWhenReady(ctx, nil, timeout, req)
}

// callWhenReady is call with ready, when not nil, waited for between
// sending the request and reading the response: timeout runs from when it
// returned, and its failure is the call's.
func (c *Client) callWhenReady(ctx context.Context, ready func() error, timeout time.Duration, req Request) (Response, error) {
	req.Version = ProtocolVersion
	if ready == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	conn, err := c.dial(ctx)
	if err != nil {
		if ready != nil {
			err = errors.Join(ready(), err)
		}
		return Response{}, err
	}
	defer conn.Close()
	// Unblock reads and writes when ctx ends.
	unblock := func() { conn.SetDeadline(time.Unix(1, 0)) }
	defer context.AfterFunc(ctx, unblock)()
	err = writeFrame(conn, req)
	if ready != nil {
		if err := ready(); err != nil {
			return Response{}, err
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
		defer context.AfterFunc(ctx, unblock)()
	}
	var resp Response
	if err == nil {
		err = readFrame(conn, &resp)
	}
	if err != nil {
		return Response{}, fmt.Errorf("infra %s %s: %w", c.socket, req.Op, errors.Join(ctx.Err(), err))
	}
	if resp.Error != "" {
		return resp, fmt.Errorf("%w %s %s: %s", ErrRemote, c.socket, req.Op, resp.Error)
	}
	return resp, nil
}

// dial connects to the infra's socket and checks that root listens on it.
func (c *Client) dial(ctx context.Context) (*net.UnixConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, fmt.Errorf("dial infra %s: %w", c.socket, err)
	}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("dial infra %s: not a unix connection", c.socket)
	}
	if uid, err := peerUID(uc); err != nil || uid != 0 {
		conn.Close()
		return nil, fmt.Errorf("infra %s runs as uid %d, not root: %w", c.socket, uid, errors.Join(err, errors.New("refused")))
	}
	return uc, nil
}
