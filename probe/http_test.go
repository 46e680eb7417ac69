package probe

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/manifests"
)

// hostPort splits an httptest server's URL into host and port.
func hostPort(t *testing.T, raw string) (string, int32) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), int32(p)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return int32(port)
}

func check(t *testing.T, h manifests.ProbeHandler, target Target, timeout time.Duration) (Result, string) {
	t.Helper()
	if target.Dialer == nil {
		target.Dialer = HostDialer()
	}
	c, err := NewChecker(h, target)
	if err != nil {
		t.Fatal(err)
	}
	return c.Check(context.Background(), timeout)
}

func TestHTTPChecker(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "fine") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", 500) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, strings.Repeat("x", 3*maxBody)) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	host, port := hostPort(t, srv.URL)
	refused := closedPort(t)

	tests := []struct {
		name   string
		action manifests.HTTPGetAction
		want   Result
		output string
	}{
		{"2xx", manifests.HTTPGetAction{Path: "/ok"}, Success, "fine"},
		{"5xx", manifests.HTTPGetAction{Path: "/fail"}, Failure, "HTTP probe failed with statuscode: 500"},
		{"404", manifests.HTTPGetAction{Path: "/none"}, Failure, "HTTP probe failed with statuscode: 404"},
		{"same-host redirect followed", manifests.HTTPGetAction{Path: "/moved"}, Success, "fine"},
		// The error names the last redirect's target, as Go's client words it.
		{"redirect loop", manifests.HTTPGetAction{Path: "/loop"}, Failure, `Get "/loop": stopped after 10 redirects`},
		{"body capped", manifests.HTTPGetAction{Path: "/big"}, Success, strings.Repeat("x", maxBody)},
		{"refused", manifests.HTTPGetAction{Path: "/ok", Port: manifests.FromInt(refused)}, Failure,
			fmt.Sprintf(`Get "http://127.0.0.1:%d/ok": dial tcp 127.0.0.1:%d: connect: connection refused`, refused, refused)},
		{"timeout", manifests.HTTPGetAction{Path: "/slow"}, Failure,
			fmt.Sprintf(`Get "http://%s:%d/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, host, port)},
		{"named port missing", manifests.HTTPGetAction{Path: "/ok", Port: manifests.FromString("admin")}, Unknown,
			`httpGet.port: the container has no port named "admin"`},
		{"named port", manifests.HTTPGetAction{Path: "/ok", Port: manifests.FromString("web")}, Success, "fine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.action
			if a.Port == (manifests.IntOrString{}) {
				a.Port = manifests.FromInt(port)
			}
			target := Target{PodIP: host, Ports: []manifests.ContainerPort{{Name: "web", ContainerPort: port}}}
			got, out := check(t, manifests.ProbeHandler{HTTPGet: &a}, target, 300*time.Millisecond)
			if got != tt.want || out != tt.output {
				t.Errorf("got %v %q, want %v %q", got, out, tt.want, tt.output)
			}
		})
	}
}

func TestHTTPCheckerRedirectToAnotherHost(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.Host == "localhost" || strings.HasPrefix(r.Host, "localhost:") {
			fmt.Fprint(w, "followed")
			return
		}
		_, port, _ := net.SplitHostPort(r.Host)
		http.Redirect(w, r, "http://localhost:"+port+"/", http.StatusMovedPermanently)
	}))
	t.Cleanup(srv.Close)
	host, port := hostPort(t, srv.URL)
	got, out := check(t, manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Port: manifests.FromInt(port)}},
		Target{PodIP: host}, time.Second)
	if got != Warning || !strings.HasPrefix(out, "Probe terminated redirects, Response body: ") || hits != 1 {
		t.Errorf("got %v %q after %d requests, want a warning after 1", got, out, hits)
	}
	if ev := runEvent(Liveness, got, out); ev == nil || ev.Reason != ReasonProbeWarning || !strings.HasPrefix(ev.Message, "Liveness probe warning: Probe terminated redirects") {
		t.Errorf("event %+v", ev)
	}
}

func TestHTTPCheckerHeaders(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r }))
	t.Cleanup(srv.Close)
	host, port := hostPort(t, srv.URL)
	tests := []struct {
		name       string
		headers    []manifests.HTTPHeader
		ua, accept string
		hasAccept  bool
		host       string
		extra      string
	}{
		{"defaults", nil, "kube-probe/test", "*/*", true, net.JoinHostPort(host, strconv.Itoa(int(port))), ""},
		{"overridden", []manifests.HTTPHeader{{Name: "user-agent", Value: "mine"}, {Name: "Accept", Value: "text/plain"}, {Name: "X-Custom", Value: "v"}},
			"mine", "text/plain", true, net.JoinHostPort(host, strconv.Itoa(int(port))), "v"},
		{"empty accept removed, host header", []manifests.HTTPHeader{{Name: "Accept", Value: ""}, {Name: "Host", Value: "example.test"}},
			"kube-probe/test", "", false, "example.test", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &manifests.HTTPGetAction{Path: "/h", Port: manifests.FromInt(port), HTTPHeaders: tt.headers}
			if res, out := check(t, manifests.ProbeHandler{HTTPGet: a}, Target{PodIP: host, UserAgent: "kube-probe/test"}, time.Second); res != Success {
				t.Fatalf("probe: %v %q", res, out)
			}
			r := <-got
			_, hasAccept := r.Header["Accept"]
			if r.UserAgent() != tt.ua || r.Header.Get("Accept") != tt.accept || hasAccept != tt.hasAccept || r.Host != tt.host || r.Header.Get("X-Custom") != tt.extra {
				t.Errorf("got UA %q Accept %q (set %v) Host %q X-Custom %q", r.UserAgent(), r.Header.Get("Accept"), hasAccept, r.Host, r.Header.Get("X-Custom"))
			}
			if r.Header.Get("Connection") != "close" && !r.Close {
				t.Errorf("request asks for keep-alive; probes close their connection")
			}
		})
	}
}

func TestHTTPCheckerHTTPSSelfSigned(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "tls") }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the plain-http probe below makes it complain
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host, port := hostPort(t, srv.URL)
	for _, scheme := range []string{"HTTPS", "https"} {
		res, out := check(t, manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Scheme: scheme, Port: manifests.FromInt(port)}},
			Target{PodIP: host}, time.Second)
		if res != Success || out != "tls" {
			t.Errorf("%s: got %v %q, want Success \"tls\"", scheme, res, out)
		}
	}
	res, out := check(t, manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Port: manifests.FromInt(port)}}, Target{PodIP: host}, time.Second)
	if res != Failure || out != "HTTP probe failed with statuscode: 400" {
		t.Errorf("plain http to a TLS server: got %v %q", res, out)
	}
}

func TestTCPChecker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := int32(l.Addr().(*net.TCPAddr).Port)
	closed := closedPort(t)
	tests := []struct {
		name   string
		action manifests.TCPSocketAction
		want   Result
		output string
	}{
		{"open", manifests.TCPSocketAction{Port: manifests.FromInt(open)}, Success, ""},
		{"open, named", manifests.TCPSocketAction{Port: manifests.FromString("svc")}, Success, ""},
		{"host given", manifests.TCPSocketAction{Port: manifests.FromInt(open), Host: "127.0.0.1"}, Success, ""},
		{"closed", manifests.TCPSocketAction{Port: manifests.FromInt(closed)}, Failure,
			fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", closed)},
		{"port 0", manifests.TCPSocketAction{Port: manifests.FromInt(0)}, Unknown, "tcpSocket.port: port 0 is out of range 1-65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.action
			target := Target{PodIP: "127.0.0.1", Ports: []manifests.ContainerPort{{Name: "svc", ContainerPort: open}}}
			if got, out := check(t, manifests.ProbeHandler{TCPSocket: &a}, target, time.Second); got != tt.want || out != tt.output {
				t.Errorf("got %v %q, want %v %q", got, out, tt.want, tt.output)
			}
		})
	}
}

func TestResolvePort(t *testing.T) {
	ports := []manifests.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "bad", ContainerPort: 70000}}
	tests := []struct {
		port    manifests.IntOrString
		want    int
		wantErr string
	}{
		{manifests.FromInt(80), 80, ""},
		{manifests.FromString("http"), 8080, ""},
		{manifests.FromString("8080"), 0, `the container has no port named "8080"`},
		{manifests.FromString("grpc"), 0, `the container has no port named "grpc"`},
		{manifests.FromString("bad"), 0, `port "bad" is 70000, out of range 1-65535`},
		{manifests.FromInt(0), 0, "port 0 is out of range 1-65535"},
		{manifests.FromInt(65536), 0, "port 65536 is out of range 1-65535"},
	}
	for _, tt := range tests {
		got, err := ResolvePort(tt.port, ports)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ResolvePort(%v) = %d, %q; want %d, %q", tt.port, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

// A response whose headers never end fails the probe once maxHeader was
// read, instead of growing the daemon's memory until the timeout.
func TestHTTPCheckerEndlessHeaders(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Endless: "); err != nil {
			return
		}
		chunk := []byte(strings.Repeat("x", 64<<10))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	port := int32(l.Addr().(*net.TCPAddr).Port)
	got, out := check(t, manifests.ProbeHandler{HTTPGet: &manifests.HTTPGetAction{Port: manifests.FromInt(port)}},
		Target{PodIP: "127.0.0.1"}, 10*time.Second)
	if got != Failure || !strings.HasSuffix(out, errHeaderTooLong.Error()) {
		t.Errorf("got %v %q, want a failure ending %q", got, out, errHeaderTooLong)
	}
}
