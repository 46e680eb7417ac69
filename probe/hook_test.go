package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-project/berth/manifests"
)

// TestHTTPHook: the hook's GET goes to the pod's IP on a named port with
// its path and headers and the kubelet's lifecycle User-Agent; any answer,
// a 500 too, is a hook that ran; no answer is a failure.
func TestHTTPHook(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	host, port := hostPort(t, srv.URL)
	target := Target{PodIP: host, Dialer: HostDialer(), Ports: []manifests.ContainerPort{{Name: "web", ContainerPort: port}}}
	a := manifests.HTTPGetAction{Path: "/stop?now=1", Port: manifests.IntOrString{Type: manifests.StringValue, StrVal: "web"},
		HTTPHeaders: []manifests.HTTPHeader{{Name: "X-Hook", Value: "preStop"}}}
	if err := HTTPHook(context.Background(), a, target); err != nil {
		t.Fatalf("HTTPHook: %v", err)
	}
	r := <-got
	if r.URL.RequestURI() != "/stop?now=1" || r.Header.Get("X-Hook") != "preStop" || r.UserAgent() != HookUserAgent {
		t.Errorf("request %s, X-Hook %q, User-Agent %q", r.URL.RequestURI(), r.Header.Get("X-Hook"), r.UserAgent())
	}
	srv.Close()
	a.Port = manifests.FromInt(port)
	if err := HTTPHook(context.Background(), a, target); err == nil {
		t.Error("HTTPHook to a closed server: want an error")
	}
	a.Port = manifests.IntOrString{Type: manifests.StringValue, StrVal: "nope"}
	if err := HTTPHook(context.Background(), a, target); err == nil {
		t.Error("HTTPHook to an unknown port name: want an error")
	}
}
