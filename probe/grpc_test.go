package probe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/berth-project/berth/manifests"
)

func TestRequestFrame(t *testing.T) {
	tests := []struct {
		service string
		want    []byte
	}{
		{"", []byte{0, 0, 0, 0, 0}},
		{"a", []byte{0, 0, 0, 0, 3, 0x0a, 1, 'a'}},
		{"grpc.health", append([]byte{0, 0, 0, 0, 13, 0x0a, 11}, "grpc.health"...)},
		// A length over 127 takes two varint bytes.
		{strings.Repeat("s", 200), append([]byte{0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01}, strings.Repeat("s", 200)...)},
	}
	for _, tt := range tests {
		if got := requestFrame(tt.service); !bytes.Equal(got, tt.want) {
			t.Errorf("requestFrame(%.10q) = % x, want % x", tt.service, got, tt.want)
		}
	}
}

func TestParseResponseFrame(t *testing.T) {
	frame := func(msg ...byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg))), msg...)
	}
	tests := []struct {
		name    string
		body    []byte
		want    servingStatus
		wantErr string
	}{
		{"serving", frame(0x08, 1), serving, ""},
		{"not serving", frame(0x08, 2), 2, ""},
		{"empty message is UNKNOWN", frame(), 0, ""},
		{"unknown fields skipped", frame(0x10, 0x96, 0x01, 0x1a, 2, 'h', 'i', 0x25, 1, 2, 3, 4, 0x29, 1, 2, 3, 4, 5, 6, 7, 8, 0x08, 1), serving, ""},
		{"last status wins", frame(0x08, 2, 0x08, 1), serving, ""},
		{"short header", []byte{0, 0, 0}, 0, "response of 3 bytes is shorter than a gRPC frame header"},
		{"compressed", append([]byte{1}, frame(0x08, 1)[1:]...), 0, "response message is compressed, which the probe did not accept"},
		{"length mismatch", []byte{0, 0, 0, 0, 5, 0x08, 1}, 0, "response frame says 5 bytes and holds 2"},
		{"truncated varint", frame(0x08, 0x80), 0, "response message: field 1: bad varint"},
		{"status as bytes", frame(0x0a, 1, 1), 0, "response message: status has wire type 2, not varint"},
		{"bad length", frame(0x1a, 5, 'h'), 0, "response message: field 3: bad length"},
		{"wire type 3", frame(0x0b), 0, "response message: field 1: unknown wire type 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseResponseFrame(tt.body)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("got %v, %q; want %v, %q", got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}

func TestGRPCTimeout(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "1000000u"},
		{999 * time.Millisecond, "999000u"},
		{90 * time.Second, "90000000u"},
		{2 * time.Minute, "120000m"},
		{1500 * time.Nanosecond, "1500n"},
		{30 * time.Hour, "108000S"},
	}
	for _, tt := range tests {
		if got := grpcTimeout(tt.d); got != tt.want {
			t.Errorf("grpcTimeout(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	err, ok := parseStatus("5", "unknown%20service")
	if !ok || err == nil || err.Error() != "rpc error: code = NotFound desc = unknown service" {
		t.Errorf("got %v, %v", err, ok)
	}
	if err, ok := parseStatus("0", ""); !ok || err != nil {
		t.Errorf("OK: got %v, %v", err, ok)
	}
	if _, ok := parseStatus("", ""); ok {
		t.Error("no grpc-status: ok")
	}
}

// healthServer is the gRPC health service as grpc-go's implements it,
// written against the wire format in the test's own terms: statuses by
// service name, NotFound for a service it does not know.
type healthServer struct {
	statuses map[string]byte
	// requests receives each request's headers.
	requests chan http.Header
}

func (h *healthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests <- r.Header.Clone()
	w.Header().Set("Content-Type", "application/grpc")
	if r.URL.Path != healthCheckPath {
		// grpc-go's answer to an unregistered service: trailers only.
		w.Header().Set("Grpc-Status", "12")
		w.Header().Set("Grpc-Message", "unknown service "+strings.TrimPrefix(r.URL.Path, "/"))
		return
	}
	body, _ := io.ReadAll(r.Body)
	service := ""
	if len(body) > 7 {
		service = string(body[7:])
	}
	status, ok := h.statuses[service]
	if !ok {
		w.Header().Set("Grpc-Status", "5")
		w.Header().Set("Grpc-Message", "unknown service")
		return
	}
	w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
	w.Write([]byte{0, 0, 0, 0, 2, 0x08, status})
	w.Header().Set("Grpc-Status", "0")
}

// serveH2C serves h over cleartext HTTP/2 on a loopback port.
func serveH2C(t *testing.T, h http.Handler) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go (&http2Server{h: h}).serve(l)
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// http2Server serves cleartext HTTP/2 without the upgrade dance, as gRPC
// servers do.
type http2Server struct{ h http.Handler }

func (s *http2Server) serve(l net.Listener) {
	srv := &http2.Server{}
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go srv.ServeConn(c, &http2.ServeConnOpts{Handler: s.h})
	}
}

func TestGRPCChecker(t *testing.T) {
	hs := &healthServer{statuses: map[string]byte{"": 1, "db": 2, "cache": 1}, requests: make(chan http.Header, 10)}
	port := serveH2C(t, hs)
	other := serveH2C(t, http.NewServeMux()) // an h2c server with no gRPC at all: 404
	unimpl := serveH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.requests <- r.Header
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "12")
		w.Header().Set("Grpc-Message", "unknown service grpc.health.v1.Health")
	}))
	okNoMessage := serveH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.requests <- r.Header
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "0")
	}))
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
	t.Cleanup(plain.Close)
	_, plainPort := hostPort(t, plain.URL)
	refused := closedPort(t)
	str := func(s string) *string { return &s }

	tests := []struct {
		name    string
		action  manifests.GRPCAction
		want    Result
		output  string
		prefix  bool
		request bool
	}{
		{"serving, default service", manifests.GRPCAction{Port: port}, Success, "service healthy", false, true},
		{"serving, named", manifests.GRPCAction{Port: port, Service: str("cache")}, Success, "service healthy", false, true},
		{"not serving", manifests.GRPCAction{Port: port, Service: str("db")}, Failure, `service unhealthy (responded with "NOT_SERVING")`, false, true},
		{"unknown service", manifests.GRPCAction{Port: port, Service: str("nope")}, Failure,
			"error: health rpc probe failed: rpc error: code = NotFound desc = unknown service", false, true},
		{"health not implemented", manifests.GRPCAction{Port: unimpl}, Failure,
			"error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health", false, true},
		{"status OK without a message", manifests.GRPCAction{Port: okNoMessage}, Failure,
			"error: health rpc probe failed: rpc error: code = Internal desc = response has status OK and no message", false, true},
		{"h2c server without gRPC", manifests.GRPCAction{Port: other}, Failure,
			"error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unexpected HTTP status code received from server: 404 (Not Found)", false, false},
		{"HTTP/1 server", manifests.GRPCAction{Port: plainPort}, Failure, "error: health rpc probe failed: ", true, false},
		{"refused", manifests.GRPCAction{Port: refused}, Failure,
			fmt.Sprintf(`error: failed to connect service at "127.0.0.1:%d": dial tcp 127.0.0.1:%d: connect: connection refused`, refused, refused), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.action
			got, out := check(t, manifests.ProbeHandler{GRPC: &a}, Target{PodIP: "127.0.0.1", UserAgent: "kube-probe/test"}, 2*time.Second)
			if got != tt.want || (tt.prefix && !strings.HasPrefix(out, tt.output)) || (!tt.prefix && out != tt.output) {
				t.Errorf("got %v %q, want %v %q", got, out, tt.want, tt.output)
			}
			if !tt.request {
				return
			}
			h := <-hs.requests
			if h.Get("Content-Type") != "application/grpc" || h.Get("Te") != "trailers" || h.Get("User-Agent") != "kube-probe/test" || !strings.HasSuffix(h.Get("Grpc-Timeout"), "u") {
				t.Errorf("request headers %v", h)
			}
		})
	}
}

func TestGRPCCheckerTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	port := serveH2C(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	got, out := check(t, manifests.ProbeHandler{GRPC: &manifests.GRPCAction{Port: port}}, Target{PodIP: "127.0.0.1"}, 200*time.Millisecond)
	if got != Failure || out != "timeout: health rpc did not complete within 200ms" {
		t.Errorf("got %v %q", got, out)
	}
}
