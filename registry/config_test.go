package registry

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-project/berth/images"
)

// counting counts a registry's manifest requests.
func counting(n *atomic.Int32) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				n.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
}

// failing answers 404 (the mirror lacks the image) once broken is set.
func failing(broken *atomic.Bool) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if broken.Load() && r.URL.Path != "/v2/" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"not on this mirror"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestMirrorFirstThenOrigin(t *testing.T) {
	var originHits, mirrorHits atomic.Int32
	var broken atomic.Bool
	origin := serve(t, counting(&originHits))
	mirror := serve(t, func(h http.Handler) http.Handler { return counting(&mirrorHits)(failing(&broken)(h)) })
	img := randomImage(t, 2)
	push(t, origin+"/app:1", img)
	push(t, mirror+"/app:1", img)
	originHits.Store(0)
	mirrorHits.Store(0)
	cfg := &Config{Registries: map[string]Host{origin: {Mirrors: []string{mirror}}}}
	pull := func() (Result, error) {
		o := anonymous
		o.Config = cfg
		return mustNew(t, newStore(t), o).Pull(context.Background(), origin+"/app:1", images.DefaultPlatform(), nil)
	}

	res, err := pull()
	if err != nil {
		t.Fatal(err)
	}
	if res.Registry != mirror || originHits.Load() != 0 || mirrorHits.Load() == 0 {
		t.Errorf("pulled from %s; origin asked %d times, mirror %d: want the mirror only", res.Registry, originHits.Load(), mirrorHits.Load())
	}
	if res.Ref != origin+"/app:1" {
		t.Errorf("stored as %s, want the origin's name", res.Ref)
	}

	broken.Store(true)
	res, err = pull()
	if err != nil {
		t.Fatalf("mirror down: %v", err)
	}
	if res.Registry != origin || originHits.Load() == 0 {
		t.Errorf("mirror down: pulled from %s, origin asked %d times", res.Registry, originHits.Load())
	}

	// mirrorsOnly: the origin is never asked, and the error names the
	// mirror's answer.
	cfg.Registries[origin] = Host{Mirrors: []string{mirror}, MirrorsOnly: true}
	before := originHits.Load()
	if _, err = pull(); err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Errorf("mirrorsOnly with the mirror down: %v", err)
	}
	if originHits.Load() != before {
		t.Errorf("mirrorsOnly asked the origin")
	}
}

// Docker Hub's images come from a pull-through mirror under their
// repository paths (library/ for official images).
func TestDockerHubPullThrough(t *testing.T) {
	mirror := serve(t, nil)
	img := randomImage(t, 1)
	push(t, mirror+"/library/alpine:3", img)
	o := anonymous
	o.Config = &Config{Registries: map[string]Host{"docker.io": {Mirrors: []string{mirror}, MirrorsOnly: true}}}
	res, err := mustNew(t, newStore(t), o).Pull(context.Background(), "alpine:3", images.DefaultPlatform(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != "alpine:3" || res.Registry != mirror || res.Image.ID != digestOf(t, img.ConfigName).String() {
		t.Errorf("pulled %s from %s, image %s", res.Ref, res.Registry, res.Image.ID)
	}
}

// A registry with a certificate from a private CA is reached with the CA
// its entry names, and refused without it.
func TestRegistryCA(t *testing.T) {
	srv := httptest.NewTLSServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	img := randomImage(t, 1)
	r, err := name.ParseReference(host + "/tls:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	o := anonymous
	if _, err := mustNew(t, newStore(t), o).Pull(context.Background(), host+"/tls:1", images.DefaultPlatform(), nil); err == nil {
		t.Fatal("pulled over TLS from an unknown CA")
	}
	o.Config = &Config{Registries: map[string]Host{host: {CA: []string{ca}}}}
	if _, err := mustNew(t, newStore(t), o).Pull(context.Background(), host+"/tls:1", images.DefaultPlatform(), nil); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
}

func TestInsecureHostAllowsPlainHTTP(t *testing.T) {
	cfg := &Config{Registries: map[string]Host{"build.lan:5000": {Insecure: true}}}
	ok := roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	})
	g := guard{next: ok, maxManifest: 1 << 20, plain: cfg.insecure}
	for host, want := range map[string]bool{"build.lan:5000": true, "other.lan:5000": false, "127.0.0.1:5000": true} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/", nil)
		_, err := g.RoundTrip(req)
		if (err == nil) != want {
			t.Errorf("%s: plain HTTP allowed %v, want %v (%v)", host, err == nil, want, err)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, err string
	}{
		{"mirrors", "registries:\n  docker.io:\n    mirrors: [mirror.lan:5000]\n  mirror.lan:5000:\n    insecure: true\n", ""},
		{"empty", "", ""},
		{"mirrorsOnly alone", "registries:\n  ghcr.io:\n    mirrorsOnly: true\n", "registries.ghcr.io.mirrorsOnly"},
		{"scheme", "registries:\n  docker.io:\n    mirrors: [\"https://mirror.lan\"]\n", "registries.docker.io.mirrors[0]"},
		{"unknown field", "registries:\n  docker.io:\n    mirror: [m.lan]\n", "field mirror not found"},
		{"missing credentials file", "credentials: /nonexistent/berth-auth.json\n", "credentials: stat /nonexistent/berth-auth.json"},
	} {
		p := filepath.Join(t.TempDir(), "registries.yaml")
		if err := os.WriteFile(p, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(p, false)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
	none := filepath.Join(t.TempDir(), "none.yaml")
	if _, err := LoadConfig(none, false); err == nil {
		t.Error("a named file that does not exist is accepted")
	}
	if c, err := LoadConfig(none, true); err != nil || len(c.Registries) != 0 {
		t.Errorf("an optional file that does not exist: %+v, %v, want the empty configuration", c, err)
	}
}

// writeHelper writes docker-credential-<name> into a directory put first
// on PATH: it answers for server only, and logs its requests to a file.
func writeHelper(t *testing.T, helper, server, user, pass string) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := fmt.Sprintf(`#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
echo "$server" >> %q
if [ "$server" = %q ]; then
  printf '{"ServerURL":"%%s","Username":%q,"Secret":%q}' "$server"
else
  echo "credentials not found in native keychain"
  exit 1
fi
`, calls, server, user, pass)
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+helper), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

func TestCredentialHelper(t *testing.T) {
	host := serve(t, basicAuth("berth", "helper-pw"))
	img := randomImage(t, 1)
	push(t, host+"/private:1", img, remote.WithAuth(&basicAuthn{"berth", "helper-pw"}))
	calls := writeHelper(t, "berthtest", host, "berth", "helper-pw")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	creds := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(creds, []byte(`{"credHelpers":{"`+host+`":"berthtest"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := mustNew(t, newStore(t), Options{Config: &Config{Credentials: creds}})
	if _, err := p.Pull(context.Background(), host+"/private:1", images.DefaultPlatform(), nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(calls); !strings.Contains(string(b), host) {
		t.Errorf("helper was asked for %q, want %s", b, host)
	}

	// credsStore: the helper for every registry; one without credentials
	// for a registry is anonymous there.
	kc := (&DockerConfig{CredsStore: "berthtest"}).Keychain(true)
	if a, err := kc.Resolve(mustRegistry(t, "other.example")); err != nil || a != authn.Anonymous {
		t.Errorf("credsStore without credentials: %v, %v", a, err)
	}
	a, err := kc.Resolve(mustRegistry(t, host))
	if err != nil {
		t.Fatal(err)
	}
	if ac, _ := a.Authorization(); ac == nil || ac.Username != "berth" || ac.Password != "helper-pw" {
		t.Errorf("credsStore: %+v", ac)
	}

	// Helpers named by a Secret are never run.
	os.Remove(calls)
	if a, err := (&DockerConfig{CredHelpers: map[string]string{host: "berthtest"}}).Keychain(false).Resolve(mustRegistry(t, host)); err != nil || a != authn.Anonymous {
		t.Errorf("Secret's helper: %v, %v", a, err)
	}
	if _, err := os.Stat(calls); err == nil {
		t.Error("a Secret's credential helper ran")
	}

	// A helper that fails otherwise fails the lookup, without its output.
	if _, err := (&DockerConfig{CredsStore: "berth-missing-helper"}).Keychain(true).Resolve(mustRegistry(t, host)); err == nil ||
		!strings.Contains(err.Error(), "docker-credential-berth-missing-helper") {
		t.Errorf("missing helper: %v", err)
	}
}

func TestDockerConfigLookup(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("hub:pw"))
	c, err := ParseDockerConfig([]byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"` + auth + `"},"http://reg.lan:5000/v2/":{"username":"u","password":"p"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for host, user := range map[string]string{"index.docker.io": "hub", "docker.io": "hub", "reg.lan:5000": "u", "reg.lan": ""} {
		a, err := c.Keychain(false).Resolve(mustRegistry(t, host))
		if err != nil {
			t.Fatal(err)
		}
		ac, _ := a.Authorization()
		if ac.Username != user {
			t.Errorf("%s: user %q, want %q", host, ac.Username, user)
		}
	}
	if _, err := ParseDockerConfig([]byte(`{"auths":{"x":{"auth":"c2VjcmV0"}}}`)); err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("auth without a colon: %v", err)
	}
	if _, err := ParseDockercfg([]byte(`{"x": "s3cret"}`)); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad .dockercfg: %v", err)
	}
}

func mustRegistry(t *testing.T, host string) name.Registry {
	t.Helper()
	r, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A helper that does not answer is killed at the timeout and fails the
// lookup.
func TestCredentialHelperTimeout(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-stuck"), []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	c := &DockerConfig{CredsStore: "stuck"}
	kc := configKeychain{load: func() (*DockerConfig, error) { return c, nil }, helpers: true, timeout: 100 * time.Millisecond}
	_, err := kc.Resolve(mustRegistry(t, "reg.example"))
	if err == nil || !strings.Contains(err.Error(), "no answer in 100ms") {
		t.Errorf("stuck helper: %v", err)
	}
}
