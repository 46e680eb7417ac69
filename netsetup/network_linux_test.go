package netsetup

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Privileged tests: each one builds its own bridge, CIDR, nft table and
// network namespaces with random names and removes them in t.Cleanup.
// Traffic stays on loopback, the test bridge and the test namespaces.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func randName(prefix string, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(prefix)
	for range n {
		b = append(b, letters[rand.IntN(len(letters))])
	}
	return string(b)
}

// testConfig returns a Config with a unique bridge, table and a random
// 10.200-250.x.0/bits network.
func testConfig(t *testing.T, bits int) Config {
	suffix := randName("", 5)
	return Config{
		Bridge:   "bt" + suffix,
		CIDR:     fmt.Sprintf("10.%d.%d.0/%d", 200+rand.IntN(51), rand.IntN(256), bits),
		StateDir: filepath.Join(t.TempDir(), "net"),
		Table:    "bt_" + suffix,
		Log:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// newTestNetwork opens a Network on cfg and runs EnsureHost; the bridge and
// the table are removed in cleanup.
func newTestNetwork(t *testing.T, cfg Config) *Network {
	t.Helper()
	t.Cleanup(func() {
		if err := deleteLink(cfg.Bridge); err != nil {
			t.Errorf("cleanup bridge: %v", err)
		}
		c, err := nftables.New()
		if err != nil {
			t.Errorf("cleanup table: %v", err)
			return
		}
		c.DelTable(&nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyIPv4})
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			t.Errorf("cleanup table %s: %v", cfg.Table, err)
		}
	})
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.EnsureHost(); err != nil {
		t.Fatal(err)
	}
	return n
}

// inNetns runs fn on a locked OS thread inside the netns at path.
func inNetns(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer target.Close()
	return runInNetns(target, fn)
}

// newNetns creates a named netns, deleted in cleanup.
func newNetns(t *testing.T) string {
	t.Helper()
	name := randName("btns", 8)
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
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, serr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	return filepath.Join("/run/netns", name)
}

// newPod creates a netns and sets up its network; cleanup tears the network
// down before the netns goes (a deleted netns frees its veth only later).
func newPod(t *testing.T, n *Network, podID string, ports []PortMapping) (PodNet, string) {
	t.Helper()
	path := newNetns(t)
	t.Cleanup(func() {
		if err := n.Teardown(podID); err != nil {
			t.Errorf("teardown %s: %v", podID, err)
		}
	})
	pn, err := n.Setup(podID, path, ports)
	if err != nil {
		t.Fatalf("setup %s: %v", podID, err)
	}
	return pn, path
}

// serveRemoteAddr answers each TCP connection (and UDP datagram) on addr
// inside the netns at path with the peer address it saw, until cleanup.
func serveRemoteAddr(t *testing.T, path, network, addr string) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	err := inNetns(path, func() error {
		var err error
		if network == "tcp" {
			ln, err = net.Listen("tcp4", addr)
		} else {
			pc, err = net.ListenPacket("udp4", addr)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listen %s %s in %s: %v", network, addr, path, err)
	}
	if ln != nil {
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintln(c, c.RemoteAddr())
				c.Close()
			}
		}()
		return
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(from.String()+"\n"), from)
		}
	}()
}

// askRemoteAddr dials network/addr (from the netns at path, or the host when
// path is "") and returns the peer address the server reported, retrying
// until a deadline.
func askRemoteAddr(t *testing.T, path, network, addr string) netip.AddrPort {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		var conn net.Conn
		dial := func() error {
			var err error
			conn, err = net.DialTimeout(network+"4", addr, time.Second)
			return err
		}
		var err error
		if path == "" {
			err = dial()
		} else {
			err = inNetns(path, dial)
		}
		if err == nil {
			var line string
			conn.SetDeadline(time.Now().Add(time.Second))
			if network == "udp" {
				_, err = conn.Write([]byte("hi"))
			}
			if err == nil {
				line, err = bufio.NewReader(conn).ReadString('\n')
			}
			conn.Close()
			if err == nil {
				ap, perr := netip.ParseAddrPort(strings.TrimSpace(line))
				if perr != nil {
					t.Fatalf("server reply %q: %v", line, perr)
				}
				return ap
			}
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s %s from %q unreachable: %v", network, addr, path, lastErr)
	return netip.AddrPort{}
}

func hostPortRuleCount(t *testing.T, n *Network) int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := n.hostportRules(c)
	if err != nil {
		t.Fatal(err)
	}
	return len(rules)
}

func linkExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestPodToPod(t *testing.T) {
	requireRoot(t)
	n := newTestNetwork(t, testConfig(t, 24))
	a, pathA := newPod(t, n, "t_a", nil)
	b, pathB := newPod(t, n, "t_b", nil)
	if a.IP.Equal(b.IP) || !a.Gateway.Equal(n.Gateway()) || a.PrefixLen != 24 || a.Veth != VethName("t_a") {
		t.Fatalf("unexpected PodNets %+v %+v", a, b)
	}
	serveRemoteAddr(t, pathA, "tcp", ":7777")
	got := askRemoteAddr(t, pathB, "tcp", net.JoinHostPort(a.IP.String(), "7777"))
	if got.Addr().String() != b.IP.String() {
		t.Errorf("pod a saw %s, want pod b's %s (no NAT between pods)", got, b.IP)
	}
}

func TestHostPort(t *testing.T) {
	requireRoot(t)
	n := newTestNetwork(t, testConfig(t, 24))
	if err := n.EnsureHost(); err != nil {
		t.Fatalf("second EnsureHost: %v", err)
	}
	hp := 20000 + rand.IntN(20000)
	ports := []PortMapping{
		{HostPort: hp, ContainerPort: 7777, Protocol: "TCP"},
		{HostPort: hp, ContainerPort: 7778, Protocol: "UDP"},
	}
	_, pathA := newPod(t, n, "t_hp", ports)
	_, pathB := newPod(t, n, "t_other", nil)
	serveRemoteAddr(t, pathA, "tcp", ":7777")
	serveRemoteAddr(t, pathA, "udp", ":7778")

	gw := n.Gateway().String()
	port := fmt.Sprint(hp)
	for _, tc := range []struct{ name, from, network, addr string }{
		{"host to 127.0.0.1 tcp", "", "tcp", net.JoinHostPort("127.0.0.1", port)},
		{"host to 127.0.0.1 udp", "", "udp", net.JoinHostPort("127.0.0.1", port)},
		{"host to gateway tcp", "", "tcp", net.JoinHostPort(gw, port)},
		{"host to gateway udp", "", "udp", net.JoinHostPort(gw, port)},
		{"hairpin tcp", pathA, "tcp", net.JoinHostPort(gw, port)},
		{"other pod udp", pathB, "udp", net.JoinHostPort(gw, port)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := askRemoteAddr(t, tc.from, tc.network, tc.addr)
			// Host and hairpin traffic is masqueraded to the gateway.
			if tc.from != pathB && got.Addr().String() != gw {
				t.Errorf("pod saw source %s, want gateway %s", got, gw)
			}
		})
	}
	// EnsureHost twice did not duplicate the fixed rules.
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := c.GetRules(n.nftTable(), &nftables.Chain{Name: chainPostrouting, Table: n.nftTable()})
	if err != nil || len(rules) != 3 {
		t.Errorf("postrouting has %d rules (%v), want 3", len(rules), err)
	}
}

func TestEgressMasquerade(t *testing.T) {
	requireRoot(t)
	n := newTestNetwork(t, testConfig(t, 24))
	_, pathPod := newPod(t, n, "t_egress", nil)

	// An "outside" host: a netns behind a /30 veth link from the host.
	outside := newNetns(t)
	hostEnd := randName("bto", 8)
	base := netip.AddrFrom4([4]byte{10, byte(251 + rand.IntN(4)), byte(rand.IntN(256)), byte(4 * rand.IntN(64))})
	hostIP, outIP := base.Next(), base.Next().Next()
	nsh, err := netns.GetFromPath(outside)
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostEnd
	t.Cleanup(func() {
		if err := deleteLink(hostEnd); err != nil {
			t.Errorf("cleanup %s: %v", hostEnd, err)
		}
	})
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(nsh))}); err != nil {
		t.Fatal(err)
	}
	host, err := netlink.LinkByName(hostEnd)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: hostIP.AsSlice(), Mask: net.CIDRMask(30, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, name := range []string{"lo", "eth0"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "eth0" {
			if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: outIP.AsSlice(), Mask: net.CIDRMask(30, 32)}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}

	serveRemoteAddr(t, outside, "tcp", ":8000")
	got := askRemoteAddr(t, pathPod, "tcp", net.JoinHostPort(outIP.String(), "8000"))
	if got.Addr() != hostIP {
		t.Errorf("outside saw source %s, want the host's %s", got.Addr(), hostIP)
	}
}

func TestManyPodsLeaveNothing(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t, 24)
	n := newTestNetwork(t, cfg)
	const pods = 50
	hp := 20000 + rand.IntN(20000)
	var paths []string
	for i := range pods {
		path := newNetns(t)
		paths = append(paths, path)
		id := fmt.Sprintf("t_many%d", i)
		if _, err := n.Setup(id, path, []PortMapping{{HostPort: hp + i, ContainerPort: 80}}); err != nil {
			t.Fatalf("setup %s: %v", id, err)
		}
	}
	if got := hostPortRuleCount(t, n); got != pods {
		t.Fatalf("%d hostPort rules, want %d", got, pods)
	}
	for i := range pods {
		id := fmt.Sprintf("t_many%d", i)
		if err := n.Teardown(id); err != nil {
			t.Fatalf("teardown %s: %v", id, err)
		}
		if err := n.Teardown(id); err != nil {
			t.Fatalf("second teardown %s: %v", id, err)
		}
		if err := netns.DeleteNamed(filepath.Base(paths[i])); err != nil {
			t.Fatal(err)
		}
	}
	for i := range pods {
		id := fmt.Sprintf("t_many%d", i)
		if linkExists(t, VethName(id)) {
			t.Errorf("veth of %s remains", id)
		}
		if _, ok := n.Lease(id); ok {
			t.Errorf("lease of %s remains", id)
		}
		if _, err := os.Stat(paths[i]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("netns %s remains: %v", paths[i], err)
		}
	}
	if got := hostPortRuleCount(t, n); got != 0 {
		t.Errorf("%d hostPort rules remain", got)
	}
	entries, err := os.ReadDir(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			t.Errorf("lease file %s remains", e.Name())
		}
	}
}

func TestCrashRecovery(t *testing.T) {
	requireRoot(t)
	cfg := testConfig(t, 24)
	n1 := newTestNetwork(t, cfg)
	if _, err := New(cfg); !errors.Is(err, ErrStateLocked) {
		t.Fatalf("New on a locked state dir: err = %v, want ErrStateLocked", err)
	}
	const pod, orphan = "t_crash", "t_orphan"
	path := newNetns(t)
	orphanPath := newNetns(t)

	// A Setup that "crashed" after the lease, the rules and the veth, but
	// before configuring or attaching anything; and a veth whose lease is lost.
	hps, err := planPorts([]PortMapping{{HostPort: 20000 + rand.IntN(20000), ContainerPort: 80}})
	if err != nil {
		t.Fatal(err)
	}
	var undo undoStack
	ip, err := n1.claim(pod, hps, &undo)
	if err != nil {
		t.Fatal(err)
	}
	for id, p := range map[string]string{pod: path, orphan: orphanPath} {
		ns, err := netns.GetFromPath(p)
		if err != nil {
			t.Fatal(err)
		}
		err = n1.createVeth(id, VethName(id), ip, ns)
		ns.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { deleteLink(VethName(pod)); deleteLink(VethName(orphan)) })
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}

	// The daemon restarts: the lease is still there, Setup converges.
	n2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n2.Close() })
	if got, ok := n2.Lease(pod); !ok || got.String() != ip.String() {
		t.Fatalf("Lease after restart = %v, %v; want %s", got, ok, ip)
	}
	pn, err := n2.Setup(pod, path, []PortMapping{{HostPort: int(hps[0].hostPort), ContainerPort: 80}})
	if err != nil {
		t.Fatalf("Setup after crash: %v", err)
	}
	if pn.IP.String() != ip.String() || hostPortRuleCount(t, n2) != 1 {
		t.Fatalf("Setup after crash: IP %s (want %s), %d rules (want 1)", pn.IP, ip, hostPortRuleCount(t, n2))
	}

	// GC keeps live pods, then removes everything once the pod is gone.
	if err := n2.GC(map[string]bool{pod: true}); err != nil {
		t.Fatal(err)
	}
	if !linkExists(t, VethName(pod)) || linkExists(t, VethName(orphan)) {
		t.Fatalf("GC with pod live: pod veth kept=%v (want true), orphan veth kept=%v (want false)",
			linkExists(t, VethName(pod)), linkExists(t, VethName(orphan)))
	}
	if err := n2.GC(nil); err != nil {
		t.Fatal(err)
	}
	if linkExists(t, VethName(pod)) {
		t.Error("GC left the veth")
	}
	if _, ok := n2.Lease(pod); ok {
		t.Error("GC left the lease")
	}
	if got := hostPortRuleCount(t, n2); got != 0 {
		t.Errorf("GC left %d hostPort rules", got)
	}
}

func TestDuplicateHostPort(t *testing.T) {
	requireRoot(t)
	n := newTestNetwork(t, testConfig(t, 24))
	hp := 20000 + rand.IntN(20000)
	a, _ := newPod(t, n, "default_web", []PortMapping{{HostPort: hp, ContainerPort: 80}})

	path := newNetns(t)
	_, err := n.Setup("default_other", path, []PortMapping{{HostIP: "127.0.0.1", HostPort: hp, ContainerPort: 8080}})
	want := fmt.Sprintf("host port %d/TCP is already used by pod default/web", hp)
	if !errors.Is(err, ErrHostPortInUse) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if _, ok := n.Lease("default_other"); ok {
		t.Error("failed Setup left a lease")
	}
	if linkExists(t, VethName("default_other")) {
		t.Error("failed Setup left a veth")
	}
	if got, ok := n.Lease("default_web"); !ok || !got.Equal(a.IP) || hostPortRuleCount(t, n) != 1 {
		t.Errorf("first pod disturbed: lease %v %v, %d rules", got, ok, hostPortRuleCount(t, n))
	}
	// The advance check gives the same answer, and a pod's own ports are
	// no conflict.
	if err := n.CheckPorts("default_other", []PortMapping{{HostPort: hp, ContainerPort: 8080}}); !errors.Is(err, ErrHostPortInUse) {
		t.Errorf("CheckPorts of a held port: err = %v, want ErrHostPortInUse", err)
	}
	if err := n.CheckPorts("default_web", []PortMapping{{HostPort: hp, ContainerPort: 80}}); err != nil {
		t.Errorf("CheckPorts of the holder's own port: %v", err)
	}
	// UDP on the same port number is a different host socket.
	if _, err := n.Setup("default_other", path, []PortMapping{{HostPort: hp, ContainerPort: 53, Protocol: "UDP"}}); err != nil {
		t.Fatalf("UDP on the same port: %v", err)
	}
	if err := n.Teardown("default_other"); err != nil {
		t.Fatal(err)
	}
}

// TestPortRefusedBeforeLease: a pod refused for a host port never takes
// a lease, not even for the moment before its rules fail. In a range with
// one pod address, held by the port's owner, the refusal must name the port
// and not the full range.
func TestPortRefusedBeforeLease(t *testing.T) {
	requireRoot(t)
	n := newTestNetwork(t, testConfig(t, 30)) // 1 pod address
	hp := 20000 + rand.IntN(20000)
	newPod(t, n, "default_web", []PortMapping{{HostPort: hp, ContainerPort: 80}})
	_, err := n.Setup("default_other", newNetns(t), []PortMapping{{HostPort: hp, ContainerPort: 80}})
	if !errors.Is(err, ErrHostPortInUse) {
		t.Fatalf("err = %v, want ErrHostPortInUse", err)
	}
}

func TestRangeExhausted(t *testing.T) {
	requireRoot(t)
	n := newTestNetwork(t, testConfig(t, 29)) // 5 pod addresses
	for i := range 5 {
		newPod(t, n, fmt.Sprintf("t_full%d", i), nil)
	}
	path := newNetns(t)
	_, err := n.Setup("t_full5", path, nil)
	if !errors.Is(err, ErrRangeExhausted) || !strings.Contains(err.Error(), "t_full5") {
		t.Fatalf("err = %v, want ErrRangeExhausted naming the pod", err)
	}
	if linkExists(t, VethName("t_full5")) {
		t.Error("failed Setup left a veth")
	}
}

// TestLoopbackClosedToPods checks the CVE-2020-8558 guard: route_localnet is
// on for the bridge, yet a pod that routes 127.0.0.1 to the gateway does not
// reach a host service bound to loopback. As a control, the same connection
// succeeds once berth's input rule is removed.
func TestLoopbackClosedToPods(t *testing.T) {
	requireRoot(t)
	n := newTestNetwork(t, testConfig(t, 24))
	_, path := newPod(t, n, "t_martian", nil)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	// Inside the pod: remove lo's 127.0.0.1/8 (and so its local routes), send
	// 127.0.0.0/8 to the gateway, and accept loopback addresses on eth0.
	err = inNetns(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if err := netlink.AddrDel(lo, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(8, 32)}}); err != nil {
			return err
		}
		eth, err := netlink.LinkByName(PodInterface)
		if err != nil {
			return err
		}
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/eth0/route_localnet", []byte("1"), 0o644); err != nil {
			return err
		}
		return netlink.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: n.Gateway(),
			Dst: &net.IPNet{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)}})
	})
	if err != nil {
		t.Fatalf("route 127/8 out of the pod: %v", err)
	}
	dial := func() error {
		return inNetns(path, func() error {
			c, err := net.DialTimeout("tcp4", ln.Addr().String(), time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	if err := dial(); err == nil {
		t.Fatal("pod reached a service bound to the host's 127.0.0.1")
	}

	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	c.FlushChain(&nftables.Chain{Name: chainInput, Table: n.nftTable()})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := dial(); err != nil {
		// Only meaningful when no other table (another berth daemon of a
		// test running in parallel) filters the input hook too.
		if others := otherInputChains(t, c, n.nftTable().Name); len(others) > 0 {
			t.Logf("control skipped: input chains of other tables %v also filter: %v", others, err)
			return
		}
		t.Errorf("control: without berth's input rule the pod should get through, got %v", err)
	}
}

// otherInputChains lists the chains hooked on input in tables other than
// own.
func otherInputChains(t *testing.T, c *nftables.Conn, own string) []string {
	t.Helper()
	chains, err := c.ListChains()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ch := range chains {
		if ch.Table.Name != own && ch.Hooknum != nil && *ch.Hooknum == *nftables.ChainHookInput {
			out = append(out, ch.Table.Name+"/"+ch.Name)
		}
	}
	return out
}

// TestNoIPv6OnThePodNetwork: the bridge, the host ends and the pods' eth0
// have IPv6 off, so none takes a link-local address, listens for router
// advertisements or floods the bridge with its neighbour discovery; lo
// in the pod keeps ::1.
func TestNoIPv6OnThePodNetwork(t *testing.T) {
	requireRoot(t)
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		t.Skip("no IPv6 in this kernel")
	}
	cfg := testConfig(t, 24)
	n := newTestNetwork(t, cfg)
	a, pathA := newPod(t, n, "t_v6a", nil)
	b, _ := newPod(t, n, "t_v6b", nil)

	// ipv6State is called inside the pod's netns too, off the test's
	// goroutine: it reports failures, it does not stop the test.
	ipv6State := func(ifname string) (off string, addrs []netlink.Addr, err error) {
		v, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6")
		if err != nil {
			return "", nil, err
		}
		link, err := netlink.LinkByName(ifname)
		if err != nil {
			return "", nil, err
		}
		addrs, err = netlink.AddrList(link, netlink.FAMILY_V6)
		return strings.TrimSpace(string(v)), addrs, err
	}
	for _, name := range []string{cfg.Bridge, a.Veth, b.Veth} {
		off, addrs, err := ipv6State(name)
		if err != nil {
			t.Fatalf("host interface %s: %v", name, err)
		}
		if off != "1" || len(addrs) != 0 {
			t.Errorf("host interface %s: disable_ipv6=%s, IPv6 addresses %v", name, off, addrs)
		}
	}
	err := inNetns(pathA, func() error {
		off, addrs, err := ipv6State(PodInterface)
		if err != nil {
			return err
		}
		if off != "1" || len(addrs) != 0 {
			t.Errorf("pod's %s: disable_ipv6=%s, IPv6 addresses %v", PodInterface, off, addrs)
		}
		off, addrs, err = ipv6State("lo")
		if err != nil {
			return err
		}
		if off != "0" || len(addrs) != 1 || !addrs[0].IP.Equal(net.IPv6loopback) {
			t.Errorf("pod's lo: disable_ipv6=%s, IPv6 addresses %v, want ::1 only", off, addrs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
