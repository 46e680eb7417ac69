//go:build !berthlean

package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// pullProgress shows a pull's blob downloads: on a terminal, one line per
// blob redrawn in place (bytes, size, rate); otherwise one plain line per
// blob when it is done, for logs and scripts.
type pullProgress struct {
	w   io.Writer
	tty bool
	now func() time.Time

	mu    sync.Mutex
	blobs []*blobLine
	drawn int       // lines drawn at the last redraw
	last  time.Time // last redraw
}

type blobLine struct {
	d       digest.Digest
	size    int64
	got     int64
	start   time.Time
	took    time.Duration
	state   string // "", "done", "present", "failed"
	failure error
}

// redrawEvery throttles terminal redraws while bytes arrive.
const redrawEvery = 100 * time.Millisecond

func newPullProgress(w io.Writer, tty bool) *pullProgress {
	return &pullProgress{w: w, tty: tty, now: time.Now}
}

func (p *pullProgress) find(d digest.Digest) *blobLine {
	for _, b := range p.blobs {
		if b.d == d {
			return b
		}
	}
	b := &blobLine{d: d}
	p.blobs = append(p.blobs, b)
	return b
}

func (p *pullProgress) Start(d digest.Digest, size int64, present bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.find(d)
	b.size, b.start = size, p.now()
	if present {
		b.state = "present"
		p.finished(b)
	}
	p.redraw(true)
}

func (p *pullProgress) Add(d digest.Digest, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.find(d).got += n
	p.redraw(false)
}

func (p *pullProgress) Done(d digest.Digest, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.find(d)
	b.took = p.now().Sub(b.start)
	b.state, b.failure = "done", err
	if err != nil {
		b.state = "failed"
	}
	p.finished(b)
	p.redraw(true)
}

// finished prints b's plain line.
func (p *pullProgress) finished(b *blobLine) {
	if !p.tty {
		fmt.Fprintln(p.w, b.line(p.now()))
	}
}

// redraw rewrites the terminal's lines, at most every redrawEvery unless
// forced.
func (p *pullProgress) redraw(force bool) {
	if !p.tty {
		return
	}
	now := p.now()
	if !force && now.Sub(p.last) < redrawEvery {
		return
	}
	p.last = now
	if p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA", p.drawn) // cursor up to the first line
	}
	for _, b := range p.blobs {
		fmt.Fprintf(p.w, "\r\x1b[K%s\n", b.line(now))
	}
	p.drawn = len(p.blobs)
}

func (b *blobLine) line(now time.Time) string {
	name := b.d.Encoded()[:12]
	switch b.state {
	case "present":
		return fmt.Sprintf("%s  %9s  already present", name, humanBytes(b.size))
	case "failed":
		return fmt.Sprintf("%s  %9s  failed", name, humanBytes(b.size))
	case "done":
		return fmt.Sprintf("%s  %9s  done in %s", name, humanBytes(b.size), b.took.Round(time.Millisecond))
	}
	rate := ""
	if el := now.Sub(b.start).Seconds(); el > 0 {
		rate = humanBytes(int64(float64(b.got)/el)) + "/s"
	}
	return fmt.Sprintf("%s  %9s / %-9s %s", name, humanBytes(b.got), humanBytes(b.size), rate)
}
