package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/manifests"
)

// start runs c through the batcher (Start) and waits for its outcome; ok
// is false when Start declined the run.
func start(t *testing.T, c Checker, timeout time.Duration) (res Result, out string, ok bool) {
	t.Helper()
	s, isStarter := c.(starter)
	if !isStarter {
		return 0, "", false
	}
	type outcome struct {
		res Result
		out string
	}
	ch := make(chan outcome, 1)
	if !s.Start(context.Background(), timeout, func(r Result, o string) { ch <- outcome{r, o} }) {
		return 0, "", false
	}
	select {
	case o := <-ch:
		return o.res, o.out, true
	case <-time.After(timeout + 10*time.Second):
		t.Fatalf("the batcher's run did not end within its timeout %s", timeout)
	}
	return 0, "", false
}

// localPort hides the ephemeral local port that read and write errors
// name ("read tcp 127.0.0.1:40000->...").
var localPort = regexp.MustCompile(`127\.0\.0\.1:\d+->`)

// rawServer answers every connection on l with respond, until the test
// ends.
func rawServer(t *testing.T, l net.Listener, respond func(net.Conn)) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				respond(c)
			}()
		}
	}()
}

// readRequest reads one request's head from c.
func readRequest(c net.Conn) {
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 1024)
	for !strings.Contains(string(buf), "\r\n\r\n") {
		n, err := c.Read(tmp)
		if err != nil {
			return
		}
		buf = append(buf, tmp[:n]...)
	}
}

// TestBatcherSaysWhatCheckSays: every http and tcp probe the batcher runs
// ends as Check ends it, result and output, whatever the server does.
func TestBatcherSaysWhatCheckSays(t *testing.T) {
	tn := newTestNetns(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "fine") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", 500) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.255.255.1/ok", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, strings.Repeat("x", 3*maxBody)) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			fmt.Fprint(w, strings.Repeat("y", 2000))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/slowbody", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		fmt.Fprint(w, "12345")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	l := tn.listen("127.0.0.1:0")
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	port := int32(l.Addr().(*net.TCPAddr).Port)

	raw := func(respond func(net.Conn)) int32 {
		l := tn.listen("127.0.0.1:0")
		rawServer(t, l, respond)
		return int32(l.Addr().(*net.TCPAddr).Port)
	}
	untilEOF := raw(func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.0 200 OK\r\n\r\nuntil the end")
	})
	cutHeaders := raw(func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Cut: ")
	})
	reset := raw(func(c net.Conn) {
		readRequest(c)
		c.(*net.TCPConn).SetLinger(0)
	})
	garbage := raw(func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n")
	})
	endless := raw(func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Endless: ")
		chunk := []byte(strings.Repeat("x", 64<<10))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	closedL := tn.listen("127.0.0.1:0")
	refused := int32(closedL.Addr().(*net.TCPAddr).Port)
	closedL.Close()

	httpGet := func(path string, p int32) manifests.ProbeHandler {
		return manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Path: path, Port: manifests.FromInt(p)}}
	}
	tcp := func(p int32) manifests.ProbeHandler {
		return manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Port: manifests.FromInt(p)}}
	}
	tests := []struct {
		name string
		h    manifests.ProbeHandler
		want Result
	}{
		{"2xx", httpGet("/ok", port), Success},
		{"5xx", httpGet("/fail", port), Failure},
		{"same-host redirect followed", httpGet("/moved", port), Success},
		{"redirect loop", httpGet("/loop", port), Failure},
		{"redirect to another host", httpGet("/away", port), Warning},
		{"body capped", httpGet("/big", port), Success},
		{"chunked body", httpGet("/chunked", port), Success},
		{"body until the server closes", httpGet("/", untilEOF), Success},
		{"headers cut by the close", httpGet("/", cutHeaders), Failure},
		{"reset", httpGet("/", reset), Failure},
		{"not http", httpGet("/", garbage), Failure},
		{"endless headers", httpGet("/", endless), Failure},
		{"refused", httpGet("/ok", refused), Failure},
		{"timeout awaiting headers", httpGet("/slow", port), Failure},
		{"timeout in the body", httpGet("/slowbody", port), Unknown},
		{"tcp", tcp(port), Success},
		{"tcp refused", tcp(refused), Failure},
	}
	target := Target{PodIP: "127.0.0.1", Dialer: tn.dialer()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewChecker(tt.h, target)
			if err != nil {
				t.Fatal(err)
			}
			wantRes, wantOut := c.Check(context.Background(), 300*time.Millisecond)
			res, out, ok := start(t, c, 300*time.Millisecond)
			if !ok {
				t.Fatal("Start declined a probe of an address in the pod's namespace")
			}
			if wantRes != tt.want {
				t.Errorf("Check: %v %q, want %v", wantRes, wantOut, tt.want)
			}
			if res != wantRes || localPort.ReplaceAllString(out, "") != localPort.ReplaceAllString(wantOut, "") {
				t.Errorf("Start: %v %q, Check: %v %q", res, out, wantRes, wantOut)
			}
		})
	}
}

// TestBatcherDeclines: what the batcher does not run (TLS, names, the
// host's network, a closed namespace) Check still runs, or fails as Check
// does.
func TestBatcherDeclines(t *testing.T) {
	tn := newTestNetns(t)
	d := tn.dialer()
	for name, tt := range map[string]struct {
		h manifests.ProbeHandler
		t Target
	}{
		"https":        {manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Scheme: "HTTPS", Port: manifests.FromInt(443)}}, Target{PodIP: "127.0.0.1", Dialer: d}},
		"a name":       {manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Host: "localhost", Port: manifests.FromInt(80)}}, Target{PodIP: "127.0.0.1", Dialer: d}},
		"host network": {manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Port: manifests.FromInt(80)}}, Target{PodIP: "127.0.0.1", Dialer: HostDialer()}},
		"named port":   {manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Port: manifests.FromString("none")}}, Target{PodIP: "127.0.0.1", Dialer: d}},
	} {
		c, err := NewChecker(tt.h, tt.t)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := start(t, c, time.Second); ok {
			t.Errorf("%s: the batcher ran it", name)
		}
	}

	closed := tn.dialer()
	closed.Close()
	c, err := NewChecker(manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Port: manifests.FromInt(80)}}, Target{PodIP: "127.0.0.1", Dialer: closed})
	if err != nil {
		t.Fatal(err)
	}
	res, out, ok := start(t, c, time.Second)
	wantRes, wantOut := c.Check(context.Background(), time.Second)
	if !ok || res != wantRes || out != wantOut {
		t.Errorf("a closed namespace: Start %v %q (ran: %v), Check %v %q", res, out, ok, wantRes, wantOut)
	}
}

// TestBatcherConcurrent: many probes of several namespaces at once, as a
// wake-up of the runners' grid starts them, each reach their own pod's
// server and leave no TIME_WAIT.
func TestBatcherConcurrent(t *testing.T) {
	const pods, probes = 4, 25
	type pod struct {
		tn   *testNetns
		port int
	}
	var ps []pod
	for i := range pods {
		tn := newTestNetns(t)
		l := tn.listen("127.0.0.1:0")
		serveText(t, l, "pod "+strconv.Itoa(i))
		ps = append(ps, pod{tn, l.Addr().(*net.TCPAddr).Port})
	}
	var wg sync.WaitGroup
	outs := make([][]string, pods)
	for i, p := range ps {
		c, err := NewChecker(manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Port: manifests.FromInt(int32(p.port))}},
			Target{PodIP: "127.0.0.1", Dialer: p.tn.dialer()})
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = make([]string, probes)
		for k := range probes {
			wg.Go(func() {
				res, out, ok := start(t, c, 5*time.Second)
				outs[i][k] = fmt.Sprintf("%v %v %s", ok, res, out)
			})
		}
	}
	wg.Wait()
	for i, p := range ps {
		want := fmt.Sprintf("true %v pod %d", Success, i)
		for k, got := range outs[i] {
			if got != want {
				t.Errorf("pod %d, probe %d: %q, want %q", i, k, got, want)
			}
		}
		var states map[string]int
		if err := p.tn.do(func() (err error) { states, err = tcpStates(p.port); return err }); err != nil {
			t.Fatal(err)
		}
		if states[tcpTimeWait] != 0 {
			t.Errorf("pod %d: %d TIME_WAIT sockets after %d probes, want 0", i, states[tcpTimeWait], probes)
		}
	}
}

// TestBatcherReusesSockets: a socket whose exchange ended cleanly is
// disconnected and kept by its dialer, and the pod's next probe uses it:
// one socket made for probes one after the other, each a connection of
// its own to the server, no TIME_WAIT; a failed exchange's socket is
// closed; the dialer's Close lets go of what it keeps.
func TestBatcherReusesSockets(t *testing.T) {
	tn := newTestNetns(t)
	l := tn.listen("127.0.0.1:0")
	var mu sync.Mutex
	conns := 0
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				mu.Lock()
				conns++
				mu.Unlock()
			}
		},
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	d := tn.dialer()
	c, err := NewChecker(manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Port: manifests.FromInt(int32(port))}},
		Target{PodIP: "127.0.0.1", Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	idle := func() []idleSocket {
		d.mu.Lock()
		defer d.mu.Unlock()
		return slices.Clone(d.idle)
	}
	const probes = 5
	var kept []idleSocket
	for k := range probes {
		if res, out, ok := start(t, c, 5*time.Second); !ok || res != Success || out != "ok" {
			t.Fatalf("probe %d: %v %v %q", k, ok, res, out)
		}
		now := idle()
		if len(now) != 1 || (kept != nil && now[0] != kept[0]) {
			t.Fatalf("probe %d: the dialer keeps %v, before it %v: want the one socket, reused", k, now, kept)
		}
		kept = now
	}
	mu.Lock()
	if conns != probes {
		t.Errorf("the server saw %d connections for %d probes", conns, probes)
	}
	mu.Unlock()
	var states map[string]int
	if err := tn.do(func() (err error) { states, err = tcpStates(port); return err }); err != nil {
		t.Fatal(err)
	}
	if states[tcpTimeWait] != 0 {
		t.Errorf("%d TIME_WAIT sockets after %d probes on one socket, want 0", states[tcpTimeWait], probes)
	}

	closedL := tn.listen("127.0.0.1:0")
	refused := closedL.Addr().(*net.TCPAddr).Port
	closedL.Close()
	cr, err := NewChecker(manifests.ProbeHandler{TCPSocket: &manifests.TCPSocketAction{Port: manifests.FromInt(int32(refused))}},
		Target{PodIP: "127.0.0.1", Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	if res, out, _ := start(t, cr, 5*time.Second); res != Failure || !strings.Contains(out, "connection refused") {
		t.Errorf("refused: %v %q", res, out)
	}
	if now := idle(); len(now) != 0 {
		t.Errorf("the refused probe's socket was kept: %v", now)
	}

	if res, _, _ := start(t, c, 5*time.Second); res != Success {
		t.Fatalf("probe after the refused one: %v", res)
	}
	d.Close()
	if now := idle(); len(now) != 0 {
		t.Errorf("Close left %v", now)
	}
}

// TestSocketHereReturnsHome: the thread that made a socket in the pod's
// namespace is back in the daemon's after it, and the socket is in the
// pod's (it reaches the pod's loopback server).
func TestSocketHereReturnsHome(t *testing.T) {
	tn := newTestNetns(t)
	l := tn.listen("127.0.0.1:0")
	d := tn.dialer()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	fd, err, homeErr := d.socketHere(unix.AF_INET)
	if err != nil || homeErr != nil {
		t.Fatalf("socketHere: %v, %v", err, homeErr)
	}
	defer unix.Close(fd)
	after, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if !after.Equal(before) {
		t.Errorf("the thread is in %s after socketHere, was in %s", after, before)
	}
	sa := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: l.Addr().(*net.TCPAddr).Port}
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		t.Fatalf("connect to the pod's loopback server: %v", err)
	}
	l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("the pod's loopback server got no connection: %v", err)
	}
	c.Close()
}
