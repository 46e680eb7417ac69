package registry

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// HelperTimeout bounds one run of a credential helper.
const HelperTimeout = 10 * time.Second

// DockerConfig is credentials in Docker's config.json format, as docker
// login writes them and as a kubernetes.io/dockerconfigjson Secret holds
// them.
type DockerConfig struct {
	Auths map[string]AuthEntry `json:"auths"`
	// CredHelpers names, by registry host, the helper
	// (docker-credential-<name>) that knows its credentials; CredsStore
	// the helper for every other registry.
	CredHelpers map[string]string `json:"credHelpers,omitempty"`
	CredsStore  string            `json:"credsStore,omitempty"`
}

// AuthEntry is one registry's credentials: auth is base64 of
// "user:password", or Username and Password are given.
type AuthEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// ParseDockerConfig parses a config.json (.dockerconfigjson) document.
func ParseDockerConfig(b []byte) (*DockerConfig, error) {
	var c DockerConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("not a Docker config.json document: %w", errorWithoutInput(err))
	}
	return &c, c.check()
}

// ParseDockercfg parses the legacy ~/.dockercfg form (.dockercfg): the
// auths map alone.
func ParseDockercfg(b []byte) (*DockerConfig, error) {
	var c DockerConfig
	if err := json.Unmarshal(b, &c.Auths); err != nil {
		return nil, fmt.Errorf("not a .dockercfg document: %w", errorWithoutInput(err))
	}
	return &c, c.check()
}

// errorWithoutInput keeps a JSON error's kind but never the bytes it
// quotes, which may be a credential.
func errorWithoutInput(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q has the wrong type (%s)", te.Field, te.Value)
	}
	return errors.New("invalid JSON")
}

func (c *DockerConfig) check() error {
	for k, a := range c.Auths {
		if a.Auth == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil || !bytes.Contains(b, []byte(":")) {
			return fmt.Errorf("auths[%q].auth: want base64 of user:password", k)
		}
	}
	for k, h := range c.CredHelpers {
		if !helperName.MatchString(h) {
			return fmt.Errorf("credHelpers[%q]: %q is not a helper name (docker-credential-<name>)", k, h)
		}
	}
	if c.CredsStore != "" && !helperName.MatchString(c.CredsStore) {
		return fmt.Errorf("credsStore: %q is not a helper name (docker-credential-<name>)", c.CredsStore)
	}
	return nil
}

var helperName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ID is a digest of the credentials, to tell two sets apart without
// showing them.
func (c *DockerConfig) ID() string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Keychain returns c as a keychain. Credential helpers are run only when
// helpers is set: credentials from a manifest's Secret never make berth
// run a program.
func (c *DockerConfig) Keychain(helpers bool) authn.Keychain {
	return configKeychain{load: func() (*DockerConfig, error) { return c, nil }, helpers: helpers}
}

// FileKeychain reads a config.json file at each lookup, so that a new
// docker login counts without a restart; a missing file has no
// credentials. Its credential helpers are run.
func FileKeychain(path string) authn.Keychain {
	return configKeychain{helpers: true, load: func() (*DockerConfig, error) { return loadConfigFile(path) }}
}

// NodeKeychain is the node's Docker config.json (DockerConfigPath, found
// at each lookup), credential helpers included.
var NodeKeychain authn.Keychain = configKeychain{helpers: true, load: func() (*DockerConfig, error) { return loadConfigFile(DockerConfigPath()) }}

func loadConfigFile(path string) (*DockerConfig, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &DockerConfig{}, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := ParseDockerConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// DockerConfigPath is the node's Docker config.json: in $DOCKER_CONFIG,
// else in ~/.docker.
func DockerConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker", "config.json")
}

type configKeychain struct {
	load    func() (*DockerConfig, error)
	helpers bool
	// timeout bounds a helper's run; HelperTimeout when zero.
	timeout time.Duration
}

// Resolve finds the credentials for a registry as Docker does: its
// credential helper (credHelpers, then credsStore), then auths.
func (k configKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	c, err := k.load()
	if err != nil {
		return nil, err
	}
	host := canonicalHost(r.RegistryStr())
	if k.helpers {
		h := c.CredHelpers[host]
		if h == "" {
			h = c.CredsStore
		}
		if h != "" {
			cfg, found, err := runHelper(context.Background(), h, helperServer(host), cmp.Or(k.timeout, HelperTimeout))
			if err != nil {
				return nil, err
			}
			if found {
				return authn.FromConfig(cfg), nil
			}
		}
	}
	for key, a := range c.Auths {
		if canonicalHost(authKeyHost(key)) != host {
			continue
		}
		cfg := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			b, _ := base64.StdEncoding.DecodeString(a.Auth)
			cfg.Username, cfg.Password, _ = strings.Cut(string(b), ":")
		}
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}

// authKeyHost is the host of an auths key: "https://index.docker.io/v1/",
// "registry:5000", "http://registry:5000/path" (Docker's
// ConvertToHostname).
func authKeyHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, _, _ := strings.Cut(key, "/")
	return host
}

// helperServer is the server name a helper is asked for: Docker Hub's is
// its legacy index URL, as docker login stores it.
func helperServer(host string) string {
	if host == "docker.io" {
		return "https://index.docker.io/v1/"
	}
	return host
}

// runHelper runs docker-credential-<name> get as Docker does: the server
// on standard input, JSON on standard output. found is false when the
// helper has no credentials for it.
func runHelper(ctx context.Context, name, server string, timeout time.Duration) (authn.AuthConfig, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	prog := "docker-credential-" + name
	cmd := exec.CommandContext(ctx, prog, "get")
	cmd.Stdin = strings.NewReader(server)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stdout.String() + " " + stderr.String())
		if strings.Contains(msg, "credentials not found") {
			return authn.AuthConfig{}, false, nil
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer in %s", timeout)
		}
		// The helper's output is not shown: it is an error message by
		// the protocol, but a broken helper could print a secret.
		return authn.AuthConfig{}, false, fmt.Errorf("credential helper %s for %s: %w", prog, server, err)
	}
	var out struct{ ServerURL, Username, Secret string }
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return authn.AuthConfig{}, false, fmt.Errorf("credential helper %s for %s: output is not the JSON of the helper protocol: %w", prog, server, errorWithoutInput(err))
	}
	if out.Username == "<token>" {
		return authn.AuthConfig{IdentityToken: out.Secret}, true, nil
	}
	return authn.AuthConfig{Username: out.Username, Password: out.Secret}, true, nil
}
