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
// stage in its JSON config: the program itself, or the file that holds it.
type Filter struct {
	// Program is the classic BPF program, InstructionSize bytes per
	// instruction in the host's byte order; empty when File holds it.
	Program []byte `json:"program,omitempty"`
	// File, when Program is empty, is the host file that holds the
	// program, as Program would (ReadProgram reads it). A pod's containers
	// get their filters so: the daemon writes each once per pod, and a
	// program of a thousand instructions no longer travels through the
	// infra to every start as base64 in JSON, decoded and encoded again
	// on each container's start path.
	File string `json:"file,omitempty"`
	// Flags are SECCOMP_FILTER_FLAG_* values the profile asked for (LOG,
	// SPEC_ALLOW); the loader adds TSYNC where it wants every thread.
	Flags uint32 `json:"flags,omitempty"`
}
