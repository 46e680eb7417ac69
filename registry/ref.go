package registry

import (
	"fmt"
	"net"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/berth-project/berth/images"
)

// target is a reference to pull, parsed once.
type target struct {
	// store is the reference as the image store keeps it (familiar form;
	// only the digest when both tag and digest are given).
	store string
	// remote is the same reference for go-containerregistry.
	remote name.Reference
}

// parseRef parses ref as Docker does (distribution/reference: "nginx" is
// docker.io/library/nginx:latest; "name:tag@sha256:..." means the digest)
// and builds the go-containerregistry reference from that one parse, so
// both agree on what is pulled.
func parseRef(ref string) (target, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return target{}, fmt.Errorf("reference %q: %v: %w", ref, err, images.ErrInvalidRef)
	}
	domain := reference.Domain(named)
	var opts []name.Option
	if isLoopback(domain) {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(domain+"/"+reference.Path(named), opts...)
	if err != nil {
		return target{}, fmt.Errorf("reference %q: %v: %w", ref, err, images.ErrInvalidRef)
	}
	t := target{store: reference.FamiliarString(named)}
	switch r := named.(type) {
	case reference.Canonical:
		t.remote = repo.Digest(r.Digest().String())
	case reference.Tagged:
		t.remote = repo.Tag(r.Tag())
	default:
		return target{}, fmt.Errorf("reference %q has neither tag nor digest: %w", ref, images.ErrInvalidRef)
	}
	return t, nil
}

// isLoopback reports whether a registry host (with or without port) is
// this machine: "localhost", 127.0.0.0/8 or ::1. Docker talks plain HTTP
// to those without configuration; berth does the same and to nothing
// else.
func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
