package probe

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/berth-project/berth/manifests"
)

type tcpChecker struct {
	action manifests.TCPSocketAction
	target Target
}

// Check connects and closes: a connection is a success, anything else a
// failure with the dialer's error.
func (c *tcpChecker) Check(ctx context.Context, timeout time.Duration) (Result, string) {
	port, err := ResolvePort(c.action.Port, c.target.Ports)
	if err != nil {
		return Unknown, fmt.Sprintf("tcpSocket.port: %v", err)
	}
	host := c.action.Host
	if host == "" {
		host = c.target.PodIP
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := c.target.Dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return Failure, err.Error()
	}
	conn.Close()
	return Success, ""
}
