package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/homenetns"
)

// resetOnClose makes close(2) of the socket send a reset (SO_LINGER on,
// zero seconds): no TIME_WAIT on either side (see dial.go).
func resetOnClose(fd int) error {
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		return fmt.Errorf("set SO_LINGER: %w", err)
	}
	return nil
}

// HostDialer returns the dialer of a host-network pod: the daemon's own
// network namespace, which is the host's.
func HostDialer() Dialer {
	return &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = resetOnClose(int(fd)) }); cerr != nil {
			return cerr
		}
		return err
	}}
}

// NetnsDialer dials from inside a network namespace: each socket is
// created in it, on a locked OS thread that enters the namespace only for
// the socket(2) call; the socket keeps its namespace for life, so that it
// is connected, read and closed from any goroutine, through Go's poller.
type NetnsDialer struct {
	// mu is held for reading while a socket is made in ns, and for
	// writing by Close: a dial that outlives its owner's Close (a preStop
	// hook of a pod being removed) never enters a handle closed, whose
	// number another file may have taken meanwhile.
	mu sync.RWMutex
	ns netns.NsHandle
	// home is the daemon's own network namespace (homenetns), which
	// every thread returns to after a socket(2) in ns.
	home netns.NsHandle
	// idle holds the batcher's sockets made in ns and disconnected after
	// a clean exchange, for its next probes of the pod (see takeIdle), at
	// most maxIdle of them; closed by Close. Under mu, for writing.
	idle []idleSocket
}

// idleSocket is one of a dialer's disconnected sockets and its family.
type idleSocket struct{ fd, family int }

// maxIdle is how many disconnected sockets a dialer keeps: a pod's
// probes due at one tick (one a container and probe type, mostly one or
// two) each find one. The batcher holds as many open while they run.
const maxIdle = 4

// OpenNetns opens the network namespace at path (/proc/PID/ns/net of the
// pod's infra, or a bind mount of it) for dialing. Holding the namespace
// open keeps it alive and pins it: an infra PID reused later cannot
// redirect the probes. Close releases it.
func OpenNetns(path string) (*NetnsDialer, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	home, err := homenetns.Get()
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("open the daemon's network namespace: %w", err)
	}
	return &NetnsDialer{ns: ns, home: home}, nil
}

// Close releases the pod's namespace and its idle sockets; a dial after
// it fails.
func (d *NetnsDialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.idle {
		unix.Close(s.fd)
	}
	d.idle = nil
	return d.ns.Close()
}

// takeIdle returns a disconnected socket of the family made in the
// namespace, false when the dialer has none (or was closed).
func (d *NetnsDialer) takeIdle(family int) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.idle) - 1; i >= 0; i-- {
		if s := d.idle[i]; s.family == family {
			d.idle = append(d.idle[:i], d.idle[i+1:]...)
			return s.fd, true
		}
	}
	return -1, false
}

// putIdle disconnects fd, a socket made in the namespace whose exchange
// ended cleanly, and keeps it for takeIdle; or closes it, when the dialer
// was closed, keeps maxIdle already, or the disconnect fails. The
// disconnect is connect(2) to AF_UNSPEC: a reset to the peer, as the
// close with SO_LINGER 0 would send (no TIME_WAIT on either side), and
// the socket is as new, its local port given back. It saves the next
// probe of the pod a setns(2) there and back, a socket(2) and a
// setsockopt(2), and the kernel the socket's freeing and making.
func (d *NetnsDialer) putIdle(fd, family int) {
	unspec := unix.RawSockaddrAny{}
	unspec.Addr.Family = unix.AF_UNSPEC
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&unspec)), unsafe.Sizeof(unspec))
	if errno == 0 {
		// The reset left ECONNRESET as the socket's pending error, which
		// the next send would report: reading SO_ERROR clears it.
		_, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil {
			d.mu.Lock()
			keep := d.ns.IsOpen() && len(d.idle) < maxIdle
			if keep {
				d.idle = append(d.idle, idleSocket{fd, family})
			}
			d.mu.Unlock()
			if keep {
				return
			}
		}
	}
	unix.Close(fd)
}

// socket creates a non-blocking socket of the family in the namespace,
// unless the dialer was closed.
//
// Preconditions: home is the daemon's network namespace, where every
// unlocked thread is. The work runs on a goroutine of its own that locks
// its OS thread for socketHere. The thread is unlocked only when the
// return to home succeeded; otherwise the goroutine ends locked and Go
// ends the thread with it, so that no goroutine ever runs in the pod's
// namespace.
func (d *NetnsDialer) socket(family int) (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, err, homeErr := d.socketHere(family)
		if homeErr != nil {
			ch <- result{-1, homeErr}
			return // still locked: the thread ends with the goroutine
		}
		runtime.UnlockOSThread()
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// socketHere creates a socket of the family in d's namespace on the
// calling thread, locked by the caller: err is the socket's failure (or
// the dialer's close), homeErr a failure to return to the daemon's
// namespace, after which the thread must end.
func (d *NetnsDialer) socketHere(family int) (fd int, err, homeErr error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if !d.ns.IsOpen() {
		return -1, net.ErrClosed, nil
	}
	if err := netns.Set(d.ns); err != nil {
		return -1, fmt.Errorf("enter the pod's network namespace: %w", err), nil
	}
	fd, serr := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err := netns.Set(d.home); err != nil {
		if serr == nil {
			unix.Close(fd)
		}
		return -1, nil, fmt.Errorf("return from the pod's network namespace: %w", err)
	}
	if serr != nil {
		return -1, os.NewSyscallError("socket", serr), nil
	}
	return fd, nil, nil
}

// DialContext connects to address ("host:port"; a name is resolved by the
// daemon's resolver, as the kubelet resolves it on the node) from inside
// the namespace. Errors read as net.Dialer's: "dial tcp 10.0.0.5:8080:
// connect: connection refused".
func (d *NetnsDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := resolve(ctx, network, address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	raddr := net.TCPAddrFromAddrPort(ap)
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: err} }

	family, sa, err := sockaddr(network, ap)
	if err != nil {
		return nil, opErr(err)
	}
	fd, err := d.socket(family)
	if err != nil {
		return nil, opErr(err)
	}
	f := os.NewFile(uintptr(fd), "probe socket")
	if err := resetOnClose(fd); err != nil {
		f.Close()
		return nil, opErr(err)
	}
	if err := connect(ctx, f, sa); err != nil {
		f.Close()
		return nil, opErr(err)
	}
	return &socketConn{f: f, raddr: raddr}, nil
}

// socketConn is a connected probe socket as a net.Conn: the *os.File that
// holds it (read, written and closed through Go's poller, deadlines
// included) with the net package's errors and addresses. It saves what
// net.FileConn costs a connection used once: a dup of the socket, its
// second registration with the poller, and the getsockopt, getsockname
// and getpeername calls that name it.
type socketConn struct {
	f     *os.File
	raddr *net.TCPAddr
}

func (c *socketConn) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

func (c *socketConn) Write(b []byte) (int, error) {
	n, err := c.f.Write(b)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

func (c *socketConn) Close() error {
	if err := c.f.Close(); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// LocalAddr asks the kernel: a probe needs it only for an error's wording.
// It is nil once the connection is closed.
func (c *socketConn) LocalAddr() net.Addr {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return nil
	}
	var laddr net.Addr
	if err := rc.Control(func(fd uintptr) { laddr = localAddr(int(fd)) }); err != nil {
		return nil
	}
	return laddr
}

// localAddr is the local address of socket fd, nil when the kernel has
// none to give.
func localAddr(fd int) net.Addr {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil
	}
	return tcpAddr(sa)
}

// tcpAddr is sa as the net package names a TCP endpoint; nil for another
// kind of address.
func tcpAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	}
	return nil
}

func (c *socketConn) RemoteAddr() net.Addr { return c.raddr }

func (c *socketConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *socketConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *socketConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// opError words err (the *os.File's) as the net package does: "read tcp
// 10.0.0.1:40000->10.0.0.5:8080: read: connection reset by peer", "...:
// i/o timeout", "use of closed network connection".
func (c *socketConn) opError(op string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	var laddr net.Addr
	if op != "close" {
		laddr = c.LocalAddr()
	}
	return netError(op, laddr, c.raddr, err)
}

// netError is err of op on a probe's connection as the net package words
// it: an errno as op's system call error, inside a *net.OpError naming
// both ends.
func netError(op string, laddr net.Addr, raddr *net.TCPAddr, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: laddr, Addr: raddr, Err: err}
}

// resolve returns the address to dial: an IP literal as it is, a name
// through the daemon's resolver (the first address of the network's family).
func resolve(ctx context.Context, network, address string) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("invalid port %q", portStr)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
	}
	want := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	ips, err := net.DefaultResolver.LookupNetIP(ctx, want, host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(port)), nil
}

// sockaddr returns the socket family and address of ap for network.
func sockaddr(network string, ap netip.AddrPort) (int, unix.Sockaddr, error) {
	ip := ap.Addr()
	switch {
	case ip.Zone() != "":
		// A zone names an interface, which the daemon would look up in
		// its own namespace, not the pod's.
		return 0, nil, fmt.Errorf("address %s has a zone, which probes do not support", ip)
	case ip.Is4() && network != "tcp6":
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, nil
	case ip.Is6() && network != "tcp4":
		return unix.AF_INET6, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}, nil
	}
	return 0, nil, fmt.Errorf("address %s is not of network %s", ip, network)
}

// connect connects the non-blocking socket f to sa, waiting in Go's poller
// until it is connected, refused, or ctx is done.
func connect(ctx context.Context, f *os.File, sa unix.Sockaddr) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.Connect(int(fd), sa) }); err != nil {
		return err
	}
	switch cerr {
	case nil:
		return nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		// Under way: wait below.
	default:
		return os.NewSyscallError("connect", cerr)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if err := f.SetWriteDeadline(deadline); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	cerr = nil
	werr := rc.Write(func(fd uintptr) bool {
		v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			cerr = os.NewSyscallError("getsockopt", err)
			return true
		}
		switch e := syscall.Errno(v); e {
		case 0:
			// Writable without error: connected, unless this is the
			// first look before any wake-up.
			_, err := unix.Getpeername(int(fd))
			return err == nil
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
			return false
		default:
			cerr = os.NewSyscallError("connect", e)
			return true
		}
	})
	switch {
	case werr == nil:
		return cerr
	case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		return ctx.Err()
	case errors.Is(werr, os.ErrDeadlineExceeded):
		return os.ErrDeadlineExceeded
	}
	return werr
}
