package crilog

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// event encodes one inotify event as the kernel does, with a name of
// nameLen bytes.
func event(mask uint32, nameLen int) []byte {
	b := make([]byte, unix.SizeofInotifyEvent+nameLen)
	binary.NativeEndian.PutUint32(b[4:], mask)
	binary.NativeEndian.PutUint32(b[12:], uint32(nameLen))
	return b
}

func TestDirGone(t *testing.T) {
	cat := func(evs ...[]byte) []byte {
		var b []byte
		for _, e := range evs {
			b = append(b, e...)
		}
		return b
	}
	tests := []struct {
		name   string
		events []byte
		want   bool
	}{
		{"nothing", nil, false},
		{"a file written", event(unix.IN_MODIFY, 16), false},
		{"a file rotated and marked complete", cat(event(unix.IN_MOVED_FROM, 16), event(unix.IN_MOVED_TO, 48), event(unix.IN_ATTRIB, 48)), false},
		{"dir removed after a file event with a name", cat(event(unix.IN_DELETE, 16), event(unix.IN_DELETE_SELF, 0)), true},
		{"dir moved", event(unix.IN_MOVE_SELF, 0), true},
		{"watch dropped", cat(event(unix.IN_CREATE, 32), event(unix.IN_IGNORED, 0)), true},
	}
	for _, tt := range tests {
		if got := dirGone(tt.events); got != tt.want {
			t.Errorf("%s: dirGone = %v, want %v", tt.name, got, tt.want)
		}
	}
}
