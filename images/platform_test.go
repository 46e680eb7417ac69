package images

import (
	"errors"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Platform
		err  bool
	}{
		{"linux/amd64", Platform{"linux", "amd64", ""}, false},
		{"linux/arm/v7", Platform{"linux", "arm", "v7"}, false},
		{"linux", Platform{}, true},
		{"linux//v7", Platform{}, true},
		{"linux/arm/v7/x", Platform{}, true},
		{"windows/amd64", Platform{}, true},
	} {
		got, err := ParsePlatform(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePlatform(%q) = %+v, %v", tc.in, got, err)
		}
	}
	if _, err := ParsePlatform("windows/amd64"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("windows: %v", err)
	}
}

func TestPlatformMatches(t *testing.T) {
	for _, tc := range []struct {
		want Platform
		have *ocispec.Platform
		ok   bool
	}{
		{Platform{"linux", "amd64", ""}, &ocispec.Platform{OS: "linux", Architecture: "amd64"}, true},
		{Platform{"linux", "amd64", ""}, nil, false},
		{Platform{"linux", "amd64", ""}, &ocispec.Platform{OS: "unknown", Architecture: "unknown"}, false},
		{Platform{"linux", "arm64", ""}, &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{Platform{"linux", "arm64", "v8"}, &ocispec.Platform{OS: "linux", Architecture: "arm64"}, true},
		{Platform{"linux", "arm", "v7"}, &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, false},
		{Platform{"linux", "arm", "v7"}, &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, true},
		{Platform{"linux", "arm", ""}, &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, true},
	} {
		if got := tc.want.Matches(tc.have); got != tc.ok {
			t.Errorf("%s matches %+v = %v, want %v", tc.want, tc.have, got, tc.ok)
		}
	}
}
