// Package initbin holds the lean init binary (cmd/berth-init) that berth's
// daemon runs as every pod's infra and container-init process instead of
// re-executing the whole berth binary: it starts in half the time and halves
// the infra's private memory, because it links no CLI, YAML, HTTP or
// nftables code.
//
// The binary is embedded from payload/berth-init, a file that is never
// written into the source tree: in git, payload/ holds only .gitkeep.
// hack/build compiles cmd/berth-init for the target GOOS/GOARCH into a temp
// dir and builds cmd/berth with `go build -overlay`, whose JSON maps the
// absolute path of payload/berth-init to that file; go:embed honours the
// overlay even for a file absent from disk. So a lean binary older than the
// berth it is embedded in cannot exist.
//
// A plain `go build ./cmd/berth` embeds nothing: Open reports so and the
// daemon re-executes berth itself, which has the same entry points.
package initbin

import (
	"embed"
	"io/fs"
)

// payload is embedded with all: so that the directory's .gitkeep, the one
// file it has in git, keeps the pattern from matching nothing.
//
//go:embed all:payload
var payload embed.FS

// name is the lean binary's path inside payload.
const name = "payload/berth-init"

// Open returns the embedded lean init binary for reading, and its size;
// ok is false when berth was built without it. Reading streams the bytes
// out of berth's own read-only data, with no copy on the heap.
func Open() (f fs.File, size int64, ok bool) {
	// An embed.FS fails only for a name it does not hold (fs.ErrNotExist).
	f, err := payload.Open(name)
	if err != nil {
		return nil, 0, false
	}
	st, err := f.Stat()
	if err != nil {
		return nil, 0, false
	}
	return f, st.Size(), true
}

// Size is the embedded lean init binary's size, 0 when there is none.
func Size() int64 {
	f, size, ok := Open()
	if !ok {
		return 0
	}
	f.Close()
	return size
}
