package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// ErrAttachRefused is an attach the container's spec does not allow:
// input without stdin: true, a terminal without tty: true.
var ErrAttachRefused = errors.New("attach refused")

// attachProtocol is the Upgrade token of an attach request.
const attachProtocol = "berth-attach"

// Attach opens an attach session to container ctr of a pod ("" for the
// pod's only container): the returned connection carries
// internal/attachio frames, the container's output from now on and, with
// stdin, the input written to it. Errors wrap ErrNotFound, ErrNotRunning
// or ErrAttachRefused, with the daemon's message.
func (c *Client) Attach(ctx context.Context, namespace, name, ctr string, stdin, tty bool) (net.Conn, error) {
	q := url.Values{"stdin": {strconv.FormatBool(stdin)}, "tty": {strconv.FormatBool(tty)}}
	if ctr != "" {
		q.Set("container", ctr)
	}
	resp, err := c.roundTrip(ctx, "POST", podPath(namespace, name)+"/attach?"+q.Encode(),
		map[string]string{"Connection": "Upgrade", "Upgrade": attachProtocol})
	if err != nil {
		return nil, fmt.Errorf("attach through the berth daemon: %w", err)
	}
	if resp.StatusCode != statusSwitchingProtocols {
		defer resp.Body.Close()
		err := decode(resp, nil)
		if err == nil {
			err = fmt.Errorf("daemon answered %s", resp.Status)
		}
		switch resp.StatusCode {
		case statusConflict:
			return nil, &remoteError{msg: err.Error(), is: ErrNotRunning}
		case statusBadRequest:
			return nil, &remoteError{msg: err.Error(), is: ErrAttachRefused}
		}
		return nil, err
	}
	conn, r, err := resp.upgraded(ctx)
	if err != nil {
		return nil, fmt.Errorf("attach through the berth daemon: %w", err)
	}
	return &bufferedConn{Conn: conn, r: r}, nil
}

// bufferedConn reads through the reader that read the response, which
// may hold the session's first frames.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
