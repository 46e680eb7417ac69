package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/manifests"
)

// testNetns is a network namespace the test made, with its loopback up.
type testNetns struct {
	t  *testing.T
	ns netns.NsHandle
}

// newTestNetns creates a network namespace for the test and removes it (by
// closing the last handle; sockets in it are the test's to close) when the
// test ends. It touches no interface of the host's.
func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	testutil.RequireRoot(t)
	tn := &testNetns{t: t}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		tn.ns, err = netns.New() // unshare(CLONE_NEWNET): this thread is now in it
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		lerr := setLoopbackUp()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("return to the original namespace: %w", err)
			return // stay locked: the thread ends with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- lerr
	}()
	if err := <-errc; err != nil {
		if tn.ns.IsOpen() {
			tn.ns.Close()
		}
		t.Fatalf("create a test network namespace: %v", err)
	}
	t.Cleanup(func() { tn.ns.Close() })
	return tn
}

func setLoopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(lo)
}

// do runs f on a locked OS thread inside the namespace: what f creates
// (listeners, sockets) lives in the namespace, and files it reads under
// /proc/thread-self/net describe it.
func (tn *testNetns) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(tn.ns); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("return to the original namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// listen opens a TCP listener on addr inside the namespace; the test
// closes it at its end.
func (tn *testNetns) listen(addr string) net.Listener {
	tn.t.Helper()
	var l net.Listener
	if err := tn.do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		tn.t.Fatalf("listen on %s in the test namespace: %v", addr, err)
	}
	tn.t.Cleanup(func() { l.Close() })
	return l
}

// dialer opens the namespace for dialing, as the wiring will from the
// infra's /proc/PID/ns/net (here the thread's own view of the handle).
func (tn *testNetns) dialer() *NetnsDialer {
	tn.t.Helper()
	d, err := OpenNetns(fmt.Sprintf("/proc/self/fd/%d", int(tn.ns)))
	if err != nil {
		tn.t.Fatal(err)
	}
	tn.t.Cleanup(func() { d.Close() })
	return d
}

// serveText serves body over HTTP on l until the test ends.
func serveText(t *testing.T, l net.Listener, body string) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func TestNetnsDialerReachesThePodsLoopbackOnly(t *testing.T) {
	tn := newTestNetns(t)
	// The host's loopback has a server on port P; so has the namespace's.
	hostL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hostL.Close() })
	serveText(t, hostL, "host")
	port := int32(hostL.Addr().(*net.TCPAddr).Port)
	serveText(t, tn.listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))), "pod")
	// Port Q only has a server on the host's loopback.
	hostOnly, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hostOnly.Close() })
	serveText(t, hostOnly, "host only")
	q := int32(hostOnly.Addr().(*net.TCPAddr).Port)

	pod := Target{PodIP: "10.255.255.1", Dialer: tn.dialer()}
	httpGet := func(p int32) manifests.ProbeHandler {
		return manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Host: "127.0.0.1", Port: manifests.FromInt(p)}}
	}
	if res, out := check(t, httpGet(port), pod, time.Second); res != Success || out != "pod" {
		t.Errorf("http probe of 127.0.0.1:%d from the pod's namespace: got %v %q, want the pod's server", port, res, out)
	}
	if res, out := check(t, httpGet(port), Target{Dialer: HostDialer()}, time.Second); res != Success || out != "host" {
		t.Errorf("the same probe from the host: got %v %q, want the host's server", res, out)
	}
	want := fmt.Sprintf(`Get "http://127.0.0.1:%d": dial tcp 127.0.0.1:%d: connect: connection refused`, q, q)
	if res, out := check(t, httpGet(q), pod, time.Second); res != Failure || out != want {
		t.Errorf("http probe of a host-only port from the pod: got %v %q, want %q", res, out, want)
	}
	tcp := manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Host: "127.0.0.1", Port: manifests.FromInt(q)}}
	if res, out := check(t, tcp, pod, time.Second); res != Failure || !strings.HasSuffix(out, "connect: connection refused") {
		t.Errorf("tcp probe of a host-only port from the pod: got %v %q, want refused", res, out)
	}
	tcp.TCPSocket.Port = manifests.FromInt(port)
	if res, out := check(t, tcp, pod, time.Second); res != Success {
		t.Errorf("tcp probe of the pod's port: got %v %q", res, out)
	}
}

func TestNetnsDialerGRPC(t *testing.T) {
	tn := newTestNetns(t)
	l := tn.listen("127.0.0.1:0")
	hs := &healthServer{statuses: map[string]byte{"": 1}, requests: make(chan http.Header, 1)}
	srv := &http2Server{h: hs}
	go srv.serve(l)
	port := int32(l.Addr().(*net.TCPAddr).Port)
	res, out := check(t, manifests.ProbeHandler{GRPC: &manifests.GRPCAction{Port: port}}, Target{PodIP: "127.0.0.1", Dialer: tn.dialer()}, time.Second)
	if res != Success {
		t.Errorf("grpc probe in the pod's namespace: got %v %q", res, out)
	}
}

func TestNetnsDialerTimeoutAndCancel(t *testing.T) {
	tn := newTestNetns(t)
	d := tn.dialer()
	// 10.255.255.1 has no route in a namespace with only a loopback: the
	// connect fails at once, without waiting for the timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := d.DialContext(ctx, "tcp", "10.255.255.1:80"); err == nil || !strings.Contains(err.Error(), "network is unreachable") {
		t.Errorf("dial without a route: %v", err)
	}
	// A listener whose backlog is full leaves the connect pending: the
	// deadline ends it.
	var fd int
	if err := tn.do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 0}); err != nil {
			return err
		}
		return unix.Listen(fd, 0)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	var lastErr error
	for range 8 { // fill the accept queue; the next connect hangs
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c, err := d.DialContext(ctx, "tcp", addr)
		cancel()
		if err != nil {
			lastErr = err
			break
		}
		conns = append(conns, c)
	}
	if lastErr == nil || !strings.HasSuffix(lastErr.Error(), "i/o timeout") {
		t.Errorf("dial to a full backlog: %v, want an i/o timeout", lastErr)
	}
	if ne, ok := lastErr.(net.Error); !ok || !ne.Timeout() {
		t.Errorf("dial to a full backlog: %v is not a net.Error timeout", lastErr)
	}
	// Cancelling the context ends a pending connect too.
	ctx, cancel = context.WithCancel(context.Background())
	stop := time.AfterFunc(50*time.Millisecond, cancel)
	defer stop.Stop()
	if c, err := d.DialContext(ctx, "tcp", addr); err == nil || !strings.HasSuffix(err.Error(), "context canceled") {
		if c != nil {
			c.Close()
		}
		t.Errorf("cancelled dial to a full backlog: %v, want context canceled", err)
	}
}

// tcpStates counts the TCP sockets of the current thread's network
// namespace, by state, that have port as their local or remote port.
func tcpStates(port int) (map[string]int, error) {
	counts := map[string]int{}
	for _, file := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 {
				continue
			}
			if hexPort(fields[1]) == port || hexPort(fields[2]) == port {
				counts[fields[3]]++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	p, _ := strconv.ParseUint(addr[i+1:], 16, 16)
	return int(p)
}

// tcpTimeWait is the TIME_WAIT state in /proc/net/tcp.
const tcpTimeWait = "06"

func TestProbesLeaveNoTimeWait(t *testing.T) {
	tn := newTestNetns(t)
	probed := tn.listen("127.0.0.1:0")
	serveText(t, probed, "ok")
	control := tn.listen("127.0.0.1:0")
	serveText(t, control, "ok")
	probedPort, controlPort := probed.Addr().(*net.TCPAddr).Port, control.Addr().(*net.TCPAddr).Port
	timeWait := func(port int) int {
		t.Helper()
		var c map[string]int
		if err := tn.do(func() (err error) { c, err = tcpStates(port); return err }); err != nil {
			t.Fatal(err)
		}
		return c[tcpTimeWait]
	}

	const n = 20
	target := Target{PodIP: "127.0.0.1", Dialer: tn.dialer()}
	httpGet := manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Port: manifests.FromInt(int32(probedPort))}}
	tcp := manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Port: manifests.FromInt(int32(probedPort))}}
	for range n {
		for _, h := range []manifests.ProbeHandler{httpGet, tcp} {
			if res, out := check(t, h, target, time.Second); res != Success {
				t.Fatalf("probe: %v %q", res, out)
			}
		}
	}

	// The control: the same requests as the kubelet closes them (a FIN,
	// SO_LINGER of one second), made from inside the namespace. They
	// must leave TIME_WAIT sockets, or the count below proves nothing.
	if err := tn.do(func() error {
		for range n {
			if err := kubeletStyleGet(controlPort); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "TIME_WAIT sockets of the control's connections", func() bool { return timeWait(controlPort) >= n })

	if got := timeWait(probedPort); got != 0 {
		t.Errorf("%d http and %d tcp probes left %d TIME_WAIT sockets in the pod's namespace, want 0 (the control left %d)", n, n, got, timeWait(controlPort))
	}
}

// kubeletStyleGet sends one HTTP/1.1 request with "Connection: close" on
// a socket with SO_LINGER of one second, as the kubelet's probe dialer
// sets, reads the answer and closes. It runs on the caller's thread, so
// that the socket is made in the namespace the thread is in.
func kubeletStyleGet(port int) error {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) {
			err = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 1})
		})
		return err
	}}
	c, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	_, err = io.ReadAll(c)
	return err
}

func TestNetnsDialerIPv6(t *testing.T) {
	tn := newTestNetns(t)
	var l net.Listener
	if err := tn.do(func() (err error) { l, err = net.Listen("tcp", "[::1]:0"); return err }); err != nil {
		t.Skipf("no IPv6 loopback in a new network namespace here: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	serveText(t, l, "six")
	port := int32(l.Addr().(*net.TCPAddr).Port)
	h := manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Port: manifests.FromInt(port)}}
	if res, out := check(t, h, Target{PodIP: "::1", Dialer: tn.dialer()}, time.Second); res != Success || out != "six" {
		t.Errorf("http probe of [::1]:%d in the pod's namespace: got %v %q", port, res, out)
	}
}

func TestSockaddr(t *testing.T) {
	tests := []struct {
		network, addr string
		family        int
		wantErr       string
	}{
		{"tcp", "10.0.0.5:80", unix.AF_INET, ""},
		{"tcp4", "10.0.0.5:80", unix.AF_INET, ""},
		{"tcp", "[fd00::5]:80", unix.AF_INET6, ""},
		{"tcp6", "[::1]:80", unix.AF_INET6, ""},
		{"tcp6", "10.0.0.5:80", 0, "address 10.0.0.5 is not of network tcp6"},
		{"tcp4", "[::1]:80", 0, "address ::1 is not of network tcp4"},
		{"tcp", "[fe80::1%eth0]:80", 0, "address fe80::1%eth0 has a zone, which probes do not support"},
	}
	for _, tt := range tests {
		family, _, err := sockaddr(tt.network, netip.MustParseAddrPort(tt.addr))
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if family != tt.family || gotErr != tt.wantErr {
			t.Errorf("sockaddr(%s, %s) = %d, %q; want %d, %q", tt.network, tt.addr, family, gotErr, tt.family, tt.wantErr)
		}
	}
}

// TestNetnsDialerClosed: a dial after Close fails as a closed dialer's,
// never entering the handles' old numbers, which other files may reuse.
func TestNetnsDialerClosed(t *testing.T) {
	tn := newTestNetns(t)
	d := tn.dialer()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:1"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("dial after Close: %v, want %v", err, net.ErrClosed)
	}
}
