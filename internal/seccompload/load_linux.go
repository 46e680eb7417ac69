package seccompload

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs f on the calling thread, or with allThreads on every
// thread of the process (SECCOMP_FILTER_FLAG_TSYNC). The caller must hold
// CAP_SYS_ADMIN or have set no_new_privs; a thread locked to its goroutine
// keeps the filter, and processes forked from it inherit it.
func Load(f *Filter, allThreads bool) error {
	n := len(f.Program) / InstructionSize
	if n == 0 || n > MaxInstructions || len(f.Program)%InstructionSize != 0 {
		return fmt.Errorf("seccomp filter of %d bytes is not 1 to %d instructions", len(f.Program), MaxInstructions)
	}
	flags := uintptr(f.Flags)
	if allThreads {
		flags |= unix.SECCOMP_FILTER_FLAG_TSYNC
	}
	insns := make([]unix.SockFilter, n)
	for i := range insns {
		b := f.Program[i*InstructionSize:]
		insns[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	prog := unix.SockFprog{Len: uint16(n), Filter: &insns[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("seccomp(SET_MODE_FILTER, flags %#x, %d instructions): %w", flags, n, errno)
	}
	if r != 0 {
		// With TSYNC, a positive result is the id of a thread that could
		// not be synchronised.
		return fmt.Errorf("seccomp: thread %d cannot take the filter", r)
	}
	return nil
}
