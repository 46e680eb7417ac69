package seccompload

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadProgram(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prog := bytes.Repeat([]byte{6, 0, 0, 0, 0, 0, 0xff, 0x7f}, 3) // three RET ALLOW
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.bpf", prog)
	link := filepath.Join(dir, "link.bpf")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.bpf")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    Filter
		want string // "" for prog, else part of the error
	}{
		{"inline program", Filter{Program: prog, File: filepath.Join(dir, "absent")}, ""},
		{"file", Filter{File: good}, ""},
		{"neither", Filter{}, "neither a program nor a file"},
		{"missing file", Filter{File: filepath.Join(dir, "absent")}, "no such file"},
		{"symlink", Filter{File: link}, "too many levels of symbolic links"},
		{"fifo", Filter{File: fifo}, "not a regular file"},
		{"directory", Filter{File: dir}, "not a regular file"},
		{"empty", Filter{File: write("empty.bpf", nil)}, "has 0 bytes"},
		{"part of an instruction", Filter{File: write("part.bpf", prog[:12])}, "has 12 bytes"},
		{"too long", Filter{File: write("long.bpf", make([]byte, (MaxInstructions+1)*InstructionSize))}, "not 1 to 4096 instructions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			err := f.ReadProgram()
			if tt.want == "" {
				if err != nil || !bytes.Equal(f.Program, prog) {
					t.Fatalf("ReadProgram: %v, program %v", err, f.Program)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadProgram: %v, want an error with %q", err, tt.want)
			}
			if len(f.Program) != 0 {
				t.Errorf("a refused file left a program of %d bytes", len(f.Program))
			}
		})
	}
}
