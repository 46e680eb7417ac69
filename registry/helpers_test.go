package registry

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berth-project/berth/images"
)

type emptyKeychain struct{}

func (emptyKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.Anonymous, nil
}

// basicAuthn authenticates the test's pushes.
type basicAuthn struct{ user, pass string }

func (b *basicAuthn) Authorization() (*authn.AuthConfig, error) {
	return &authn.AuthConfig{Username: b.user, Password: b.pass}, nil
}

// mustNew is New, failing the test on error.
func mustNew(t *testing.T, s *images.Store, o Options) *Puller {
	t.Helper()
	p, err := New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
