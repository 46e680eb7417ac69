package metrics

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestAcceptsGzip(t *testing.T) {
	for _, tt := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"identity"}, false},
		{[]string{"zstd, gzip;q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.0"}, false},
		{[]string{"gzip;q=junk"}, false},
		{[]string{"br", " gzip "}, true},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"gzipx, x-gzip"}, false},
	} {
		if got := acceptsGzip(tt.values); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.values, got, tt.want)
		}
	}
}

// TestHandlerGzip: a client asking for gzip gets the scrape compressed,
// one that does not gets it as it is; both parse the same.
func TestHandlerGzip(t *testing.T) {
	m := newMetrics(fakeSource{}, Node{CPUs: 2, MemoryBytes: 1 << 30}, nil, filepath.Join("testdata", "proc"))
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	for _, tt := range []struct {
		accept, wantEncoding string
	}{
		{"gzip", "gzip"},
		{"identity", ""},
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", tt.accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if got := resp.Header.Get("Content-Encoding"); got != tt.wantEncoding {
			t.Fatalf("Accept-Encoding %s: Content-Encoding %q, want %q", tt.accept, got, tt.wantEncoding)
		}
		body := io.Reader(resp.Body)
		if tt.wantEncoding == "gzip" {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(body)
		if err != nil {
			t.Fatalf("Accept-Encoding %s: parse scrape: %v", tt.accept, err)
		}
		if got := find(t, fams, "machine_cpu_cores", nil); got != 2 {
			t.Errorf("Accept-Encoding %s: machine_cpu_cores %v, want 2", tt.accept, got)
		}
	}
}
