//go:build !berthlean

package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/attachio"
)

// AttachBackend is the part of Backend that opens attach sessions.
type AttachBackend interface {
	// Attach opens a session to container ctr of a pod ("" picks the only
	// container): the connection carries internal/attachio frames until
	// the container's run ends or it is closed. Errors wrap ErrNotFound,
	// ErrNotRunning or ErrAttachRefused.
	Attach(ctx context.Context, namespace, name, ctr string, stdin, tty bool) (net.Conn, error)
}

// attach serves POST /v1/pods/{ns}/{name}/attach: it opens the session
// at the pod's infra, answers 101 Switching Protocols and then passes the
// frames both ways until either side closes. Root only, as exec: the
// session writes to a container's stdin and reads what it prints.
func (s *server) attach(w http.ResponseWriter, r *http.Request) {
	if uid, err := peerUID(r.Context()); err != nil || uid != 0 {
		s.fail(w, http.StatusForbidden, errors.Join(errors.New("berth attach needs root"), err))
		return
	}
	if r.Header.Get("Upgrade") != attachProtocol {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("attach needs the header Upgrade: %s", attachProtocol))
		return
	}
	q := r.URL.Query()
	stdin, tty := q.Get("stdin") == "true", q.Get("tty") == "true"
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	infraConn, err := s.b.Attach(ctx, r.PathValue("ns"), r.PathValue("name"), q.Get("container"), stdin, tty)
	cancel()
	if err != nil {
		s.failWith(w, err)
		return
	}
	defer infraConn.Close()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.log.Error("attach: take over the connection", "err", err)
		return
	}
	defer conn.Close()
	// The server's deadlines end with the request: the session has none.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return
	}
	buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + attachProtocol + "\r\n\r\n")
	if err := buf.Flush(); err != nil {
		return
	}
	splice(conn, buf.Reader, infraConn)
}

// splice copies client -> infra (from what the client's reader already
// buffered on) and infra -> client until either direction ends, then
// closes both: the infra ends the session when the run ends, the client
// when it detaches.
func splice(client net.Conn, clientR io.Reader, infra net.Conn) {
	var once sync.Once
	closeBoth := func() { once.Do(func() { client.Close(); infra.Close() }) }
	done := make(chan struct{})
	go func() {
		copyInput(infra, clientR, client)
		closeBoth()
		close(done)
	}()
	io.Copy(client, infra)
	closeBoth()
	<-done
}

// copyInput copies the client's frames (from clientR) to the infra until
// they end. While the infra takes nothing (a container that does not read
// its stdin), it asks whether the client hung up, and ends then: an
// abandoned session is never held here.
func copyInput(infra net.Conn, clientR io.Reader, client net.Conn) {
	gone := func() bool { return false }
	if c, ok := client.(syscall.Conn); ok {
		gone = func() bool { return attachio.HungUp(c) }
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := clientR.Read(buf)
		if n > 0 && attachio.WriteWatching(infra, buf[:n], gone) != nil {
			return
		}
		if err != nil {
			return
		}
	}
}
