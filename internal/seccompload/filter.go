// Package seccompload holds a compiled seccomp filter and the few lines
// that install it. It is what the container and exec init stages link:
// the profile, its resolution and the compiler live in package seccomp,
// which only the daemon links.
package seccompload

// InstructionSize is the size of one classic BPF instruction, struct
// sock_filter: code (u16), jt (u8), jf (u8), k (u32).
const InstructionSize = 8

// MaxInstructions is the kernel's limit on a filter's length (BPF_MAXINSNS).
const MaxInstructions = 4096

// Filter is a compiled seccomp filter, as the daemon passes it to an init
// stage in its JSON config.
type Filter struct {
	// Program is the classic BPF program, InstructionSize bytes per
	// instruction in the host's byte order.
	Program []byte `json:"program"`
	// Flags are SECCOMP_FILTER_FLAG_* values the profile asked for (LOG,
	// SPEC_ALLOW); the loader adds TSYNC where it wants every thread.
	Flags uint32 `json:"flags,omitempty"`
}
