//go:build !berthlean

package api

import (
	"context"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// connKey is the context key of the request's connection.
type connKey struct{}

// withConn keeps the connection in the request context (http.Server's
// ConnContext) so that handlers can check the peer's credentials.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// peerUID returns the uid of the process at the other end of the request's
// unix connection (SO_PEERCRED).
func peerUID(ctx context.Context) (int, error) {
	uc, ok := ctx.Value(connKey{}).(*net.UnixConn)
	if !ok {
		return -1, errors.New("not a unix socket connection")
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) }); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, fmt.Errorf("read peer credentials: %w", cerr)
	}
	return int(cred.Uid), nil
}
