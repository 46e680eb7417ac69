package registry

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gopkg.in/yaml.v3"
)

// Config is berth's registries configuration (registries.yaml), in the
// spirit of containerd's hosts.toml and podman's registries.conf:
//
//	credentials: /etc/berth/auth.json   # docker config.json format
//	registries:
//	  docker.io:                        # pull-through for Docker Hub
//	    mirrors: [mirror.example:5000]  # tried in order, then docker.io
//	  ghcr.io:
//	    mirrors: [mirror.example:5000]
//	    mirrorsOnly: true               # never ask ghcr.io itself
//	  mirror.example:5000:
//	    ca: [/etc/berth/mirror-ca.pem]  # trusted besides the system's CAs
//	  build.lan:5000:
//	    insecure: true                  # plain HTTP, or TLS unverified
//
// A mirror serves the same repository paths as the registry it mirrors
// (docker.io/library/nginx is library/nginx on the mirror), as a
// pull-through cache or a copy. A mirror's own settings (ca, insecure)
// come from its own entry.
type Config struct {
	// Credentials names a file of credentials in Docker's config.json
	// format (auths, credHelpers, credsStore), asked before the node's
	// Docker config.json.
	Credentials string `yaml:"credentials"`
	// Registries holds each registry's settings by host[:port]
	// ("docker.io" for Docker Hub).
	Registries map[string]Host `yaml:"registries"`
}

// Host is one registry's settings.
type Host struct {
	// Mirrors are hosts asked for this registry's images, in order,
	// before the registry itself.
	Mirrors []string `yaml:"mirrors"`
	// MirrorsOnly: the registry itself is never asked (an air gap).
	MirrorsOnly bool `yaml:"mirrorsOnly"`
	// Insecure allows plain HTTP and TLS without verification.
	Insecure bool `yaml:"insecure"`
	// CA lists PEM files of certificate authorities trusted for this
	// host, besides the system's.
	CA []string `yaml:"ca"`
}

// LoadConfig reads the registries configuration in file. One that does not
// exist is the empty configuration when optional (the default file), and
// an error when not.
func LoadConfig(file string, optional bool) (*Config, error) {
	b, err := os.ReadFile(file)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registries config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("registries config %s: %w", file, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("registries config %s: %w", file, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	if c.Credentials != "" {
		if _, err := os.Stat(c.Credentials); err != nil {
			return fmt.Errorf("credentials: %w (create it in Docker's config.json format, or drop the field)", err)
		}
	}
	for host, h := range c.Registries {
		if err := checkHost(host); err != nil {
			return fmt.Errorf("registries.%s: %w", host, err)
		}
		if h.MirrorsOnly && len(h.Mirrors) == 0 {
			return fmt.Errorf("registries.%s.mirrorsOnly: set, but no mirrors are listed: add registries.%s.mirrors or drop mirrorsOnly", host, host)
		}
		for i, m := range h.Mirrors {
			if err := checkHost(m); err != nil {
				return fmt.Errorf("registries.%s.mirrors[%d]: %w", host, i, err)
			}
		}
	}
	return nil
}

// checkHost accepts host[:port], without scheme or path.
func checkHost(h string) error {
	if strings.Contains(h, "/") {
		return fmt.Errorf("%q: want host[:port], without scheme or path (set insecure: true on the host for plain HTTP)", h)
	}
	if _, err := name.NewRegistry(h); err != nil {
		return fmt.Errorf("%q: %w", h, err)
	}
	return nil
}

// canonicalHost maps Docker Hub's names to docker.io, the key the
// configuration uses.
func canonicalHost(h string) string {
	switch h {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return h
}

// host returns the settings of registry host h.
func (c *Config) host(h string) Host {
	if c == nil {
		return Host{}
	}
	return c.Registries[canonicalHost(h)]
}

// endpoints lists the registries to ask for repo, in order: its mirrors,
// then itself unless mirrorsOnly.
func (c *Config) endpoints(repo name.Repository) ([]name.Repository, error) {
	h := c.host(repo.RegistryStr())
	var out []name.Repository
	for _, m := range h.Mirrors {
		r, err := c.registry(m)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Repo(repo.RepositoryStr()))
	}
	if !h.MirrorsOnly {
		r, err := c.registry(repo.RegistryStr())
		if err != nil {
			return nil, err
		}
		out = append(out, r.Repo(repo.RepositoryStr()))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("registry %s: mirrorsOnly without mirrors: nothing to pull from", repo.RegistryStr())
	}
	return out, nil
}

// registry names host for go-containerregistry: plain HTTP is tried only
// for loopback hosts and hosts set insecure.
func (c *Config) registry(host string) (name.Registry, error) {
	var opts []name.Option
	if isLoopback(host) || c.host(host).Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("registry %q: %w", host, err)
	}
	return r, nil
}

// insecure reports whether plain HTTP may be spoken to host.
func (c *Config) insecure(host string) bool {
	return isLoopback(host) || c.host(host).Insecure
}

// transport returns the HTTP transport for the configured hosts: base
// for every host without settings, a clone with the host's TLS settings
// for the others.
func (c *Config) transport(base http.RoundTripper) (http.RoundTripper, error) {
	if c == nil || len(c.Registries) == 0 {
		return base, nil
	}
	bt, ok := base.(*http.Transport)
	if !ok {
		bt = remote.DefaultTransport.(*http.Transport)
	}
	byHost := map[string]http.RoundTripper{}
	for host, h := range c.Registries {
		if !h.Insecure && len(h.CA) == 0 {
			continue
		}
		t := bt.Clone()
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.TLSClientConfig != nil {
			tc = t.TLSClientConfig.Clone()
		}
		if len(h.CA) > 0 {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			for i, f := range h.CA {
				pem, err := os.ReadFile(f)
				if err != nil {
					return nil, fmt.Errorf("registries.%s.ca[%d]: %w", host, i, err)
				}
				if !pool.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("registries.%s.ca[%d]: %s holds no PEM certificate", host, i, f)
				}
			}
			tc.RootCAs = pool
		}
		// An insecure host's certificate is not checked, as podman's
		// --tls-verify=false and containerd's skip_verify.
		tc.InsecureSkipVerify = h.Insecure
		t.TLSClientConfig = tc
		byHost[host] = t
		if host == "docker.io" {
			for _, alias := range []string{"index.docker.io", "registry-1.docker.io"} {
				byHost[alias] = t
			}
		}
	}
	return hostRouter{byHost: byHost, next: base}, nil
}

// hostRouter sends each request through its host's transport.
type hostRouter struct {
	byHost map[string]http.RoundTripper
	next   http.RoundTripper
}

func (h hostRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if t, ok := h.byHost[req.URL.Host]; ok {
		return t.RoundTrip(req)
	}
	return h.next.RoundTrip(req)
}
