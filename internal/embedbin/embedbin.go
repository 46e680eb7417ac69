// Package embedbin holds the binaries hack/build embeds in berth, each
// built from this tree for the same GOOS/GOARCH:
//
//   - Init, the lean init binary (cmd/berth-init), in the full build: the
//     daemon runs it as every pod's infra and container-init process
//     instead of re-executing the whole berth binary. It starts in half the
//     time and halves the infra's private memory, because it links no CLI,
//     YAML, HTTP or nftables code.
//   - Full, the full build of cmd/berth, in the lean one (build tag
//     berthlean): the lean build links only the client verbs, so that a
//     verb like apply or get does not pay the package initialisation of
//     the daemon, the image store and the metrics at every start; it runs
//     the daemon and the other verbs by executing Full.
//
// A binary is embedded from payload/<name>, a file that is never written
// into the source tree: in git, payload/ holds only .gitkeep. hack/build
// builds it into a temp dir and builds the embedding binary with `go build
// -overlay`, whose JSON maps the absolute path of payload/<name> to that
// file; go:embed honours the overlay even for a file absent from disk. So
// an embedded binary older than the berth it is embedded in cannot exist.
//
// A plain `go build ./cmd/berth` embeds nothing: Open reports so, and the
// daemon re-executes berth itself, which has the same entry points.
package embedbin

import (
	"embed"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sealed"
)

// payload is embedded with all: so that the directory's .gitkeep, the one
// file it has in git, keeps the pattern from matching nothing.
//
//go:embed all:payload
var payload embed.FS

// The embedded binaries' names.
const (
	Init = "berth-init"
	Full = "berth-full"
)

// Open returns the embedded binary name for reading, and its size; ok is
// false when berth was built without it. Reading streams the bytes out of
// berth's own read-only data, with no copy on the heap.
func Open(name string) (f fs.File, size int64, ok bool) {
	// An embed.FS fails only for a name it does not hold (fs.ErrNotExist).
	f, err := payload.Open("payload/" + name)
	if err != nil {
		return nil, 0, false
	}
	st, err := f.Stat()
	if err != nil {
		return nil, 0, false
	}
	return f, st.Size(), true
}

// Size is the embedded binary name's size, 0 when there is none.
func Size(name string) int64 {
	f, size, ok := Open(name)
	if !ok {
		return 0
	}
	f.Close()
	return size
}

// Exec replaces the calling process with the embedded binary name, run
// from a sealed memfd (or a copy in fallbackDir where the kernel does not
// execute memfds, see internal/sealed), with args (args[0] included) and
// env. It returns only on failure.
func Exec(name string, args, env []string, fallbackDir string) error {
	f, _, ok := Open(name)
	if !ok {
		return fmt.Errorf("%s is not embedded in this berth: build it with `make build` or hack/build", name)
	}
	defer f.Close()
	bin, err := sealed.SealReader(name, f, fallbackDir)
	if err != nil {
		return fmt.Errorf("seal embedded %s: %w", name, err)
	}
	defer bin.Close()
	if err := unix.Exec(bin.Path, args, env); err != nil {
		return fmt.Errorf("execute embedded %s: %w", name, err)
	}
	return nil
}
