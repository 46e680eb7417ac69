package metrics

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// gzipFast compresses h's answers with gzip's fastest level when the
// client accepts gzip (Prometheus always does). promhttp's own gzip uses
// the default level, which cost a scrape of 100 pods about as much CPU as
// encoding its text; the fastest level compresses the repetitive text
// format a little less, in a fraction of the time. A client that does
// not ask for gzip gets the text as it is.
func gzipFast(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.ServeHTTP(w, r)
			return
		}
		gz := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(gz)
		gz.Reset(w)
		w.Header().Set("Content-Encoding", "gzip")
		h.ServeHTTP(gzipResponse{ResponseWriter: w, gz: gz}, r)
		gz.Close()
	})
}

var gzipWriters = sync.Pool{New: func() any {
	gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return gz
}}

// gzipResponse writes its body through gz.
type gzipResponse struct {
	http.ResponseWriter
	gz *gzip.Writer
}

func (g gzipResponse) Write(b []byte) (int, error) { return g.gz.Write(b) }

// acceptsGzip tells whether Accept-Encoding values accept gzip: a "gzip"
// or "*" coding whose quality is not 0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, coding := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(coding, ";")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "gzip") && name != "*" {
				continue
			}
			if quality(params) > 0 {
				return true
			}
		}
	}
	return false
}

// quality is the q parameter of a coding's parameters, 1 without one,
// 0 when it does not parse.
func quality(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0
		}
		return q
	}
	return 1
}
