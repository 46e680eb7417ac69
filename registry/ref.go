package registry

import (
	"fmt"
	"net"
	"strings"

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

// parseRef parses ref as Docker does (images.ParseRef: "nginx" is
// docker.io/library/nginx:latest; "name:tag@sha256:..." means the digest)
// and builds the go-containerregistry reference from that one parse, so
// both agree on what is pulled.
func parseRef(ref string) (target, error) {
	r, err := images.ParseRef(ref)
	if err != nil {
		return target{}, err
	}
	if r.Domain == "" {
		return target{}, fmt.Errorf("reference %q names no registry: %w", ref, images.ErrInvalidRef)
	}
	var opts []name.Option
	if isLoopback(r.Domain) {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(r.Name(), opts...)
	if err != nil {
		return target{}, fmt.Errorf("reference %q: %v: %w", ref, err, images.ErrInvalidRef)
	}
	t := target{store: r.String()}
	if r.Digest != "" {
		t.remote = repo.Digest(r.Digest.String())
	} else {
		t.remote = repo.Tag(r.Tag)
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
