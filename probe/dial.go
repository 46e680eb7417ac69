package probe

import (
	"context"
	"net"
)

// Dialer opens a probe's TCP connections. The http, tcp and grpc checkers
// dial through it, and through nothing else (the batcher makes its
// sockets in a NetnsDialer's namespace), so that a probe reaches what the
// pod's network namespace reaches and nothing more: `host: 127.0.0.1` is
// the pod's loopback, never a service listening on the host's.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// About TIME_WAIT. A probe closes its connection after every run (no
// keep-alive, as the kubelet), and whoever closes a TCP connection first
// keeps it in TIME_WAIT for a minute. With an HTTP probe that is the pod's
// server, which closes after answering "Connection: close"; with a tcp
// probe it is the prober. A pod probed every second would hold some 60
// TIME_WAIT sockets for nothing. The kubelet sets SO_LINGER to one second,
// which on Linux only makes close() wait for unsent data: the FIN exchange,
// and the TIME_WAIT, stay. berth's probe sockets set SO_LINGER to zero
// instead: close() sends a reset, which ends the connection on both sides
// at once and leaves no TIME_WAIT anywhere. Nothing is lost by the reset: a
// probe closes only once it has read what it reads (the response, its
// first 10 KiB of body, or the gRPC trailers). The server may see "connection
// reset by peer" on the probe's connection; that is the price, and the
// kubelet's own probes of a server that does not close first see the same.
