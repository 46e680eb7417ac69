package registry

import "github.com/google/go-containerregistry/pkg/authn"

type emptyKeychain struct{}

func (emptyKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.Anonymous, nil
}

// basicAuthn authenticates the test's pushes.
type basicAuthn struct{ user, pass string }

func (b *basicAuthn) Authorization() (*authn.AuthConfig, error) {
	return &authn.AuthConfig{Username: b.user, Password: b.pass}, nil
}
