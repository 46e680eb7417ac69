package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/api"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/berth-project/berth/netsetup"
)

// netPodYAML is a pod of one demo container running args, with the given
// ports block (YAML lines under the container, may be empty).
func netPodYAML(name string, args string, ports string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: berth.test/demo:latest
    command: %s
%s`, name, args, ports)
}

// hostPortYAML is a ports block mapping hostPort to containerPort.
func hostPortYAML(proto string, containerPort, hostPort int) string {
	return fmt.Sprintf(`    ports:
    - containerPort: %d
      hostPort: %d
      protocol: %s
`, containerPort, hostPort, proto)
}

// freeHostPort returns a port that is free on every host address for network
// ("tcp" or "udp") right now.
func freeHostPort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// tcpEcho sends msg on a new connection to addr and returns the reply line.
func tcpEcho(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return echoOn(c, bufio.NewReader(c), msg)
}

// echoOn sends msg plus a newline on c and reads the reply line through r.
func echoOn(c net.Conn, r *bufio.Reader, msg string) (string, error) {
	if err := c.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return "", err
	}
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

// udpEcho sends msg to addr and returns the first reply datagram.
func udpEcho(addr, msg string) (string, error) {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// waitEcho polls echo until it returns msg: a server in a just-started
// container may not listen yet.
func waitEcho(t *testing.T, what string, echo func(addr, msg string) (string, error), addr string) {
	t.Helper()
	msg := "ping-" + randHex(4)
	var last error
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := echo(addr, msg)
		if err == nil && got == msg {
			return
		}
		last = err
		if err == nil {
			last = fmt.Errorf("reply %q, want %q", got, msg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (%s): %v", what, addr, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runningPod waits until pod name runs and returns it.
func (d *daemon) runningPod(name string) api.Pod {
	d.t.Helper()
	var p api.Pod
	testutil.WaitFor(d.t, 30*time.Second, "pod "+name+" to run", func() bool {
		p = d.pod(name)
		return p.Status.Phase == api.PodRunning && len(p.Status.ContainerStatuses) > 0 &&
			p.Status.ContainerStatuses[0].State.Running != nil
	})
	return p
}

// podCount is how many pods the daemon reports.
func (d *daemon) podCount() int {
	ps, err := api.NewClient(d.sock).Pods(context.Background())
	if err != nil {
		return -1
	}
	return len(ps)
}

// leases lists the IPAM lease files (named by IP) of this daemon.
func (d *daemon) leases() []string {
	var out []string
	ents, _ := os.ReadDir(filepath.Join(d.state, "net"))
	for _, e := range ents {
		if _, err := netip.ParseAddr(e.Name()); err == nil && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out
}

// bridgePorts lists the interfaces enslaved to the daemon's bridge.
func (d *daemon) bridgePorts() []string {
	br, err := netlink.LinkByName(d.bridge)
	if err != nil {
		return nil
	}
	links, _ := netlink.LinkList()
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// nftPodRules lists the rules of the daemon's nftables table that name a
// pod: the hostPort DNAT rules, whose comment carries "pod=<id>".
func (d *daemon) nftPodRules(t *testing.T) []string {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatalf("open nftables: %v", err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: d.table}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatalf("list nft chains: %v", err)
	}
	var out []string
	for _, ch := range chains {
		if ch.Table.Name != d.table {
			continue
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			t.Fatalf("list rules of chain %s in table %s: %v", ch.Name, d.table, err)
		}
		for _, r := range rules {
			if c, _ := userdata.GetString(r.UserData, userdata.TypeComment); strings.Contains(c, "pod=") {
				out = append(out, ch.Name+": "+c)
			}
		}
	}
	return out
}

// netnsInode is the inode of pid's network namespace.
func netnsInode(t *testing.T, pid int) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
		t.Fatalf("stat netns of %d: %v", pid, err)
	}
	return st.Ino
}

// netnsHolders lists the network namespaces still held by this daemon's
// processes (anything in its cgroup parent, its infras included) or by nsfs mounts
// under its directories. Other namespaces on the host do not count: once a
// pod's netns is freed, its inode number may be reused by an unrelated one
// (another test's, or a peer runtime's).
func (d *daemon) netnsHolders() map[uint64]string {
	out := map[uint64]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		dir := filepath.Join("/proc", e.Name())
		// Only this daemon's processes: a namespace's inode number is
		// reused once it is freed, and other tests' infras (other packages
		// run beside this one) may hold a new namespace under an old number.
		// Every process of a pod, its infra included, lives in the pod's
		// cgroups below the daemon's parent until it has exited.
		cg, _ := os.ReadFile(filepath.Join(dir, "cgroup"))
		if !strings.Contains(string(cg), "/"+d.cgroupParent+"/") {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join(dir, "ns", "net"), &st) == nil {
			out[st.Ino] = "process " + e.Name()
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.Contains(line, " - nsfs ") && strings.HasPrefix(f[4], d.dir+"/") {
			var st syscall.Stat_t
			if syscall.Stat(f[4], &st) == nil {
				out[st.Ino] = "nsfs mount " + f[4]
			}
		}
	}
	return out
}

// TestNetPodToPod: two pods on the bridge reach each other by IP; the
// client's log holds the echo server's reply, and `get pods -o wide` shows
// both addresses.
func TestNetPodToPod(t *testing.T) {
	d := startDaemon(t)
	d.apply("server.yaml", netPodYAML("server", `["/bin/demo", "echo-tcp", "7000"]`, ""))
	server := d.runningPod("server")
	ip := server.Status.PodIP
	if net.ParseIP(ip) == nil {
		t.Fatalf("server has no pod IP: %s", toJSON(server.Status))
	}
	// The server may not listen yet when the client starts: the client
	// container crashes and restarts until it does (restartPolicy Always).
	d.apply("client.yaml", netPodYAML("client",
		fmt.Sprintf(`["/bin/demo", "--then-sleep", "dial", "%s:7000", "hello-from-client"]`, ip), ""))
	client := d.runningPod("client")
	if client.Status.PodIP == "" || client.Status.PodIP == ip {
		t.Fatalf("client IP %q, server IP %q: want two distinct addresses", client.Status.PodIP, ip)
	}
	testutil.WaitFor(t, 30*time.Second, "the client to print the server's echo", func() bool {
		p := d.pod("client")
		for run := 0; run <= int(api.Restarts(p)); run++ {
			if strings.Contains(d.logOf(p, "main", run), " F hello-from-client") {
				return true
			}
		}
		return false
	})
	out := d.mustBerth("get", "pods", "-o", "wide")
	if !strings.Contains(out, ip) || !strings.Contains(out, client.Status.PodIP) {
		t.Errorf("get pods -o wide does not show the pod IPs %s and %s:\n%s", ip, client.Status.PodIP, out)
	}
}

// TestNetHostPortLoopbackGatewayTCPAndUDP: the host reaches a pod's TCP
// and UDP hostPorts on 127.0.0.1 (output-hook DNAT plus masquerade of the
// loopback source) and on the bridge's gateway address.
func TestNetHostPortLoopbackGatewayTCPAndUDP(t *testing.T) {
	d := startDaemon(t)
	tcpPort, udpPort := freeHostPort(t, "tcp"), freeHostPort(t, "udp")
	d.apply("ports.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: ports
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: tcp
    image: berth.test/demo:latest
    command: ["/bin/demo", "echo-tcp", "7000"]
    ports:
    - {containerPort: 7000, hostPort: %d, protocol: TCP}
  - name: udp
    image: berth.test/demo:latest
    command: ["/bin/demo", "echo-udp", "7001"]
    ports:
    - {containerPort: 7001, hostPort: %d, protocol: UDP}
`, tcpPort, udpPort))
	d.runningPod("ports")
	gw := gatewayOf(t, d.cidr)
	for _, host := range []string{"127.0.0.1", gw.String()} {
		waitEcho(t, "TCP hostPort via "+host, tcpEcho, net.JoinHostPort(host, fmt.Sprint(tcpPort)))
		waitEcho(t, "UDP hostPort via "+host, udpEcho, net.JoinHostPort(host, fmt.Sprint(udpPort)))
	}
	if rules := d.nftPodRules(t); len(rules) != 2 {
		t.Errorf("want 2 hostPort rules (TCP and UDP), got %d: %v", len(rules), rules)
	}
}

// gatewayOf is the bridge address of a pod CIDR: its first host address.
func gatewayOf(t *testing.T, cidr string) netip.Addr {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatal(err)
	}
	return p.Masked().Addr().Next()
}

// outside is a TCP echo server in a network namespace of its own, joined
// to the host by a veth pair with a /30: a stand-in for a machine beyond
// the host. It records the source address of every connection.
type outside struct {
	hostIP, serverIP netip.Addr
	port             int
	peers            chan string
	ns               netns.NsHandle
}

func startOutside(t *testing.T) *outside {
	t.Helper()
	var b [2]byte
	rand.Read(b[:])
	// 198.18.0.0/15 is reserved for benchmarking: no real host route uses it.
	base := netip.AddrFrom4([4]byte{198, 18, b[0], b[1] &^ 3})
	o := &outside{hostIP: base.Next(), serverIP: base.Next().Next(), peers: make(chan string, 16)}

	ns, ln, err := listenInNewNetns()
	if err != nil {
		t.Fatalf("outside netns: %v", err)
	}
	t.Cleanup(func() {
		ln.Close()
		ns.Close()
	})
	o.port, o.ns = ln.Addr().(*net.TCPAddr).Port, ns
	hostEnd := "bto" + randHex(4)
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostEnd
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: "out0", PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("create veth %s: %v", hostEnd, err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostEnd); err == nil {
			netlink.LinkDel(l)
		}
	})
	link, err := netlink.LinkByName(hostEnd)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: prefixNet(o.hostIP, 30)}); err != nil {
		t.Fatalf("address %s on %s: %v", o.hostIP, hostEnd, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	peer, err := h.LinkByName("out0")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: prefixNet(o.serverIP, 30)}); err != nil {
		t.Fatalf("address %s in outside netns: %v", o.serverIP, err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
	go o.serve(ln)
	return o
}

func (o *outside) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		select {
		case o.peers <- c.RemoteAddr().(*net.TCPAddr).IP.String():
		default:
		}
		go func() {
			defer c.Close()
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil {
				c.Write([]byte(line))
			}
		}()
	}
}

func prefixNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(bits, 32)}
}

// onNetnsThread runs f on a locked OS thread whose network namespace enter
// switched, then switches the thread back to the test's namespace. A socket
// stays in the namespace it was created in, so only its creation needs the
// switched thread. If the thread cannot be restored it stays locked and
// dies with its goroutine.
func onNetnsThread(enter func() error, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			errc <- err
			return
		}
		f()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("restore netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}

// listenInNewNetns creates a network namespace and a TCP listener in it.
func listenInNewNetns() (netns.NsHandle, net.Listener, error) {
	var ns netns.NsHandle
	var ln net.Listener
	var lerr error
	err := onNetnsThread(func() error {
		var err error
		ns, err = netns.New()
		return err
	}, func() { ln, lerr = net.Listen("tcp4", "0.0.0.0:0") })
	if err == nil {
		err = lerr
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		if ns.IsOpen() {
			ns.Close()
		}
		return netns.None(), nil, err
	}
	return ns, ln, nil
}

// dialTCP connects from inside the outside namespace.
func (o *outside) dialTCP(addr string) (net.Conn, error) {
	var c net.Conn
	var derr error
	err := onNetnsThread(func() error { return netns.Set(o.ns) },
		func() { c, derr = net.DialTimeout("tcp4", addr, 2*time.Second) })
	return c, errors.Join(err, derr)
}

// tcpEcho is tcpEcho from the outside namespace.
func (o *outside) tcpEcho(addr, msg string) (string, error) {
	c, err := o.dialTCP(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return echoOn(c, bufio.NewReader(c), msg)
}

// TestNetEgressIsMasqueraded: a pod reaches a server beyond the host, and
// the server sees the host's address on that link, not the pod's IP.
func TestNetEgressIsMasqueraded(t *testing.T) {
	d := startDaemon(t)
	o := startOutside(t)
	target := net.JoinHostPort(o.serverIP.String(), fmt.Sprint(o.port))
	d.apply("egress.yaml", netPodYAML("egress",
		fmt.Sprintf(`["/bin/demo", "--then-sleep", "dial", "%s", "hello-outside"]`, target), ""))
	p := d.runningPod("egress")
	select {
	case peer := <-o.peers:
		if peer != o.hostIP.String() {
			t.Errorf("outside server saw %s, want the host's address %s (pod IP %s)", peer, o.hostIP, p.Status.PodIP)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no connection reached the outside server %s", target)
	}
	testutil.WaitFor(t, 20*time.Second, "the pod to print the outside server's echo", func() bool {
		return strings.Contains(d.logOf(d.pod("egress"), "main", 0), " F hello-outside")
	})
}

// TestNetFiftyPodsUpAndDownLeaveNothing: 50 pods with a hostPort each,
// from one multi-document file, get distinct IPs, veths, leases and rules;
// after deletion no veth, lease, nft rule or network namespace of theirs
// remains. It logs how long both directions took.
func TestNetFiftyPodsUpAndDownLeaveNothing(t *testing.T) {
	d := startDaemon(t)
	const n = 50
	var docs []string
	used := map[int]bool{}
	for i := range n {
		// A port just closed may be handed out again: take distinct ones.
		port := freeHostPort(t, "tcp")
		for used[port] {
			port = freeHostPort(t, "tcp")
		}
		used[port] = true
		docs = append(docs, netPodYAML(fmt.Sprintf("many-%02d", i), `["/bin/demo", "sleep"]`,
			hostPortYAML("TCP", 7000, port)))
	}
	file := filepath.Join(d.dir, "many.yaml")
	if err := os.WriteFile(file, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d.mustBerth("apply", "-f", file, "--timeout", "300s")
	up := time.Since(start)

	pods := d.pods()
	if len(pods) != n {
		t.Fatalf("%d pods, want %d", len(pods), n)
	}
	ips := map[string]string{}
	var nsInodes []uint64
	for _, p := range pods {
		if p.Status.Phase != api.PodRunning || p.Status.PodIP == "" {
			t.Fatalf("pod %s: phase %s IP %q", p.Metadata.Name, p.Status.Phase, p.Status.PodIP)
		}
		if other, dup := ips[p.Status.PodIP]; dup {
			t.Errorf("pods %s and %s share IP %s", other, p.Metadata.Name, p.Status.PodIP)
		}
		ips[p.Status.PodIP] = p.Metadata.Name
		nsInodes = append(nsInodes, netnsInode(t, p.InfraPID()))
	}
	if got := len(d.bridgePorts()); got != n {
		t.Errorf("%d veths on the bridge, want %d", got, n)
	}
	if got := len(d.leases()); got != n {
		t.Errorf("%d leases, want %d", got, n)
	}
	if got := len(d.nftPodRules(t)); got != n {
		t.Errorf("%d hostPort rules, want %d", got, n)
	}

	start = time.Now()
	d.mustBerth("delete", "-f", file, "--timeout", "300s")
	testutil.WaitFor(t, 60*time.Second, "every pod to go", func() bool { return d.podCount() == 0 })
	down := time.Since(start)
	t.Logf("%d pods: up in %v (apply to all running), down in %v", n, up.Round(time.Millisecond), down.Round(time.Millisecond))

	if ports := d.bridgePorts(); len(ports) > 0 {
		t.Errorf("veths still on the bridge: %v", ports)
	}
	if l := d.leases(); len(l) > 0 {
		t.Errorf("leases remain: %v", l)
	}
	if r := d.nftPodRules(t); len(r) > 0 {
		t.Errorf("nftables rules of deleted pods remain: %v", r)
	}
	live := d.netnsHolders()
	for _, ino := range nsInodes {
		if who, ok := live[ino]; ok {
			t.Errorf("a deleted pod's netns %d is still held by %s", ino, who)
		}
	}
	if l := d.hostLeftovers(); len(l) > 0 {
		t.Errorf("left behind: %v", l)
	}
}

// TestNetDaemonKill9KeepsIPsAndConnections: after kill -9 of the daemon and
// a restart, the pod keeps its IP, connections opened before the crash
// (direct and through a hostPort) keep working, and the restart's network
// garbage collection leaves the live pod's veth and rule in place.
func TestNetDaemonKill9KeepsIPsAndConnections(t *testing.T) {
	d := startDaemon(t)
	hostPort := freeHostPort(t, "tcp")
	d.apply("echo.yaml", netPodYAML("echo", `["/bin/demo", "echo-tcp", "7000"]`, hostPortYAML("TCP", 7000, hostPort)))
	before := d.runningPod("echo")
	direct := net.JoinHostPort(before.Status.PodIP, "7000")
	viaPort := net.JoinHostPort("127.0.0.1", fmt.Sprint(hostPort))
	waitEcho(t, "echo server by pod IP", tcpEcho, direct)

	// Two connections held across the restart: straight to the pod's IP
	// over the bridge, and through the hostPort DNAT on 127.0.0.1.
	var conns []net.Conn
	var readers []*bufio.Reader
	for _, addr := range []string{direct, viaPort} {
		c, err := net.DialTimeout("tcp4", addr, 3*time.Second)
		if err != nil {
			t.Fatalf("connect to %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		r := bufio.NewReader(c)
		if got, err := echoOn(c, r, "before"); err != nil || got != "before" {
			t.Fatalf("echo via %s before the restart: %q, %v", addr, got, err)
		}
		conns, readers = append(conns, c), append(readers, r)
	}

	d.stop(syscall.SIGKILL)
	d.start()

	after := d.runningPod("echo")
	if after.Status.PodIP != before.Status.PodIP || after.InfraPID() != before.InfraPID() {
		t.Errorf("after restart: IP %s infra %d, want %s and %d",
			after.Status.PodIP, after.InfraPID(), before.Status.PodIP, before.InfraPID())
	}
	for i, c := range conns {
		if got, err := echoOn(c, readers[i], "after"); err != nil || got != "after" {
			t.Errorf("echo on the connection to %s opened before the restart: %q, %v", c.RemoteAddr(), got, err)
		}
	}
	waitEcho(t, "new connection through the hostPort after the restart", tcpEcho, viaPort)
	if ports := d.bridgePorts(); len(ports) != 1 || ports[0] != netsetup.VethName("default_echo") {
		t.Errorf("bridge ports after restart: %v, want only the pod's veth", ports)
	}
	if got := len(d.nftPodRules(t)); got != 1 {
		t.Errorf("%d hostPort rules after restart, want 1", got)
	}
}

// TestNetHostPortConflictRefusesSecondPod: a second pod asking for a host
// port another pod holds is refused with a reason and message naming the
// holder (in apply, get pods and status), gets no infra, lease or veth,
// and the first pod keeps running and answering.
func TestNetHostPortConflictRefusesSecondPod(t *testing.T) {
	d := startDaemon(t)
	hostPort := freeHostPort(t, "tcp")
	ports := hostPortYAML("TCP", 7000, hostPort)
	d.apply("first.yaml", netPodYAML("first", `["/bin/demo", "echo-tcp", "7000"]`, ports))
	first := d.runningPod("first")
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(hostPort))
	waitEcho(t, "first pod through its hostPort", tcpEcho, addr)

	// apply waits for the pod and must fail at once with the cause.
	p := filepath.Join(d.dir, "second.yaml")
	if err := os.WriteFile(p, []byte(netPodYAML("second", `["/bin/demo", "echo-tcp", "7000"]`, ports)), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("host port %d/TCP is already used by pod default/first", hostPort)
	out, err := d.berth("apply", "-f", p, "--timeout", "30s")
	if err == nil || !strings.Contains(out, api.ReasonHostPortInUse) || !strings.Contains(out, want) {
		t.Errorf("apply of the second pod: err %v, output:\n%s\nwant a failure naming %s and %q", err, out, api.ReasonHostPortInUse, want)
	}
	second := d.failedPod("second", api.ReasonHostPortInUse)
	if !strings.Contains(second.Status.Message, want) || second.Status.Phase == api.PodRunning {
		t.Errorf("second pod: phase %s message %q; want a message containing %q", second.Status.Phase, second.Status.Message, want)
	}
	if second.InfraPID() != 0 || second.Status.PodIP != "" {
		t.Errorf("the refused pod runs: infra %d IP %q", second.InfraPID(), second.Status.PodIP)
	}

	now := d.runningPod("first")
	if now.InfraPID() != first.InfraPID() || now.Status.PodIP != first.Status.PodIP || api.Restarts(now) != 0 {
		t.Errorf("first pod changed: %s", toJSON(now))
	}
	waitEcho(t, "first pod through its hostPort after the conflict", tcpEcho, addr)
	if got := len(d.leases()); got != 1 {
		t.Errorf("%d leases, want 1 (the refused pod must not hold one)", got)
	}
	if got := len(d.bridgePorts()); got != 1 {
		t.Errorf("%d veths on the bridge, want 1", got)
	}
}

// failedPod waits until pod name shows reason both in its status and in the
// STATUS column of `berth get pods`, and returns it. The daemon retries a
// failed create with back-off; while a retry runs the pod shows as being
// created, so the failure is polled for rather than read once.
func (d *daemon) failedPod(name, reason string) api.Pod {
	d.t.Helper()
	var p api.Pod
	var out string
	deadline := time.Now().Add(20 * time.Second)
	for {
		p = d.pod(name)
		out = d.mustBerth("get", "pods")
		if p.Status.Reason == reason && strings.Contains(lineOf(out, name+" "), reason) {
			return p
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("pod %s never showed reason %s: status %s\nget pods:\n%s", name, reason, toJSON(p.Status), out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lineOf returns the first line of out that starts with prefix.
func lineOf(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestNetHostNetworkPodUsesHostNamespace: a hostNetwork pod's infra and
// container share the test's network namespace and get no lease or veth.
func TestNetHostNetworkPodUsesHostNamespace(t *testing.T) {
	d := startDaemon(t)
	d.apply("hostnet.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: hostnet
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "sleep"]
`)
	p := d.runningPod("hostnet")
	host := nsLink(t, os.Getpid(), "net")
	if got := nsLink(t, containerPID(t, p, "main"), "net"); got != host {
		t.Errorf("container netns %s, want the host's %s", got, host)
	}
	if got := nsLink(t, p.InfraPID(), "net"); got != host {
		t.Errorf("infra netns %s, want the host's %s", got, host)
	}
	if l := d.leases(); len(l) > 0 {
		t.Errorf("a hostNetwork pod holds leases: %v", l)
	}
	if ports := d.bridgePorts(); len(ports) > 0 {
		t.Errorf("a hostNetwork pod has veths on the bridge: %v", ports)
	}
	if _, err := netlink.LinkByName(netsetup.VethName("default_hostnet")); err == nil {
		t.Errorf("a hostNetwork pod has a veth")
	}
}

// TestNetIPExhaustionRefusesPod: on a /30 the second pod cannot get an
// address: it is refused with a clear reason, the daemon keeps running, and
// the pod starts by itself once the first pod's address is released.
func TestNetIPExhaustionRefusesPod(t *testing.T) {
	// A /30 has one address for pods besides the gateway.
	d := startDaemon(t, func(d *daemon) { d.cidr = strings.Replace(d.cidr, ".0/24", ".0/30", 1) })
	d.apply("a.yaml", netPodYAML("a", `["/bin/demo", "sleep"]`, ""))
	a := d.runningPod("a")

	p := filepath.Join(d.dir, "b.yaml")
	if err := os.WriteFile(p, []byte(netPodYAML("b", `["/bin/demo", "sleep"]`, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := d.berth("apply", "-f", p, "--timeout", "30s")
	if err == nil || !strings.Contains(out, api.ReasonNoPodIP) || !strings.Contains(out, "no free address") {
		t.Errorf("apply of pod b: err %v, output:\n%s\nwant a failure naming %s and the exhausted range", err, out, api.ReasonNoPodIP)
	}
	b := d.failedPod("b", api.ReasonNoPodIP)
	if !strings.Contains(b.Status.Message, "no free address") || b.Status.Phase == api.PodRunning {
		t.Errorf("pod b: phase %s message %q; want a message about no free address", b.Status.Phase, b.Status.Message)
	}
	if err := d.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("daemon died: %v", err)
	}
	if now := d.pod("a"); now.InfraPID() != a.InfraPID() || now.Status.PodIP != a.Status.PodIP {
		t.Errorf("pod a changed: %s", toJSON(now))
	}

	// Once a's address is free again, the retry gives it to b.
	d.mustBerth("delete", "pod", "a")
	testutil.WaitFor(t, 60*time.Second, "pod b to run with a's address", func() bool {
		b = d.pod("b")
		return b.Status.Phase == api.PodRunning && b.Status.PodIP == a.Status.PodIP
	})
}

// TestNetHostPortFromAnotherMachine: a hostPort answers connections that
// come from another machine's address (prerouting DNAT), not only the
// host's own.
func TestNetHostPortFromAnotherMachine(t *testing.T) {
	d := startDaemon(t)
	o := startOutside(t)
	hostPort := freeHostPort(t, "tcp")
	d.apply("public.yaml", netPodYAML("public", `["/bin/demo", "echo-tcp", "7000"]`, hostPortYAML("TCP", 7000, hostPort)))
	d.runningPod("public")
	waitEcho(t, "hostPort from the outside namespace", o.tcpEcho, net.JoinHostPort(o.hostIP.String(), fmt.Sprint(hostPort)))
}

// A UDP client that keeps sending to a hostPort from one socket must reach
// the pod that holds the port now, not a conntrack entry still pointing at
// the address of the pod it replaced.
func TestNetUDPHostPortFollowsReplacedPod(t *testing.T) {
	d := startDaemon(t)
	udpPort := freeHostPort(t, "udp")
	manifest := func(version string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: udp
spec:
  terminationGracePeriodSeconds: 2
  hostname: udp-v%s
  containers:
  - name: main
    image: berth.test/demo:latest
    command: ["/bin/demo", "echo-udp", "7001"]
    ports:
    - {containerPort: 7001, hostPort: %d, protocol: UDP}
`, version, udpPort)
	}
	d.apply("udp.yaml", manifest("1"))
	before := d.runningPod("udp")
	c, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", fmt.Sprint(udpPort)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sameSocket := func(_, msg string) (string, error) {
		if err := c.SetDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			return "", err
		}
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) == msg {
				return string(buf[:n]), err
			}
		}
	}
	waitEcho(t, "UDP hostPort of the first pod", sameSocket, "")

	d.apply("udp.yaml", manifest("2"))
	after := d.runningPod("udp")
	if after.Metadata.UID == before.Metadata.UID || after.Status.PodIP == before.Status.PodIP {
		t.Fatalf("pod not replaced with a new address: uid %s -> %s, IP %s -> %s",
			before.Metadata.UID, after.Metadata.UID, before.Status.PodIP, after.Status.PodIP)
	}
	waitEcho(t, "UDP hostPort of the replacing pod from the same socket", sameSocket, "")
}
