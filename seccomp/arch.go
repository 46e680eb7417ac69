package seccomp

import (
	"fmt"
	"sync"

	"github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run mksyscalls.go

// AUDIT_ARCH_* values (linux/audit.h): seccomp_data.arch.
const (
	auditArchX8664   = 0xc000003e
	auditArchI386    = 0x40000003
	auditArchAArch64 = 0xc00000b7
	auditArchARM     = 0x40000028
)

// x32SyscallBit marks an x32 system call, which the kernel reports with
// AUDIT_ARCH_X86_64: a filter that does not look at it would let x32
// numbers pass rules written for x86_64 ones.
const x32SyscallBit = 0x40000000

// armPrivateBase is where ARM's private system calls (breakpoint,
// cacheflush, set_tls) start; they are not in the ordinary table.
const armPrivateBase = 0x0f0000

// arch is one ABI a filter can accept: its seccomp_data.arch value and its
// syscall numbers.
type arch struct {
	spec  specs.Arch
	audit uint32
	// wide is true for 64-bit ABIs; a 32-bit ABI's arguments are compared
	// on their low 32 bits only, as libseccomp does.
	wide bool
	// x32 is true for the x32 ABI: AUDIT_ARCH_X86_64 with x32SyscallBit set
	// in every number.
	x32 bool
	// table maps syscall names (libseccomp's, which are the kernel's) to
	// numbers.
	table map[string]uint32
	// ordinaryEnd bounds the numbers that count as "known" for ENOSYS: ARM's
	// private calls sit far above the ordinary ones.
	ordinaryEnd uint32
}

// arches are built on first use, with the tables in zsyscalls.go: only the
// daemon compiles filters, and every other berth process would pay for
// building them at initialisation.
var arches = sync.OnceValue(func() map[specs.Arch]*arch {
	return map[specs.Arch]*arch{
		specs.ArchX86_64:  {spec: specs.ArchX86_64, audit: auditArchX8664, wide: true, table: syscallsX8664(), ordinaryEnd: x32SyscallBit},
		specs.ArchX32:     {spec: specs.ArchX32, audit: auditArchX8664, wide: true, x32: true, table: x32Table(), ordinaryEnd: ^uint32(0)},
		specs.ArchX86:     {spec: specs.ArchX86, audit: auditArchI386, table: syscallsX86(), ordinaryEnd: ^uint32(0)},
		specs.ArchAARCH64: {spec: specs.ArchAARCH64, audit: auditArchAArch64, wide: true, table: syscallsAArch64(), ordinaryEnd: ^uint32(0)},
		specs.ArchARM:     {spec: specs.ArchARM, audit: auditArchARM, table: armTable(), ordinaryEnd: armPrivateBase},
	}
})

// nativeArch is the ABI a GOARCH runs its programs with, and the name
// Docker profiles use for it in includes/excludes ("arches").
var nativeArch = map[string]struct {
	spec specs.Arch
	name string
}{
	"amd64": {specs.ArchX86_64, "amd64"},
	"arm64": {specs.ArchAARCH64, "arm64"},
}

// Native returns the seccomp architecture of a GOARCH berth supports.
func Native(goarch string) (specs.Arch, error) {
	n, ok := nativeArch[goarch]
	if !ok {
		return "", fmt.Errorf("seccomp: architecture %s is not supported (amd64 and arm64 are)", goarch)
	}
	return n.spec, nil
}

// x32Compat are the x32 entry points of calls whose x86_64 version takes
// 64-bit pointers or structures: the x32 ABI has its own number for each,
// from 512 on (arch/x86/entry/syscalls/syscall_64.tbl), and the 64-bit
// number is not an x32 system call at all.
var x32Compat = []string{
	"rt_sigaction", "rt_sigreturn", "ioctl", "readv", "writev", "recvfrom", "sendmsg", "recvmsg",
	"execve", "ptrace", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo", "sigaltstack",
	"timer_create", "mq_notify", "kexec_load", "waitid", "set_robust_list", "get_robust_list",
	"vmsplice", "move_pages", "preadv", "pwritev", "rt_tgsigqueueinfo", "recvmmsg", "sendmmsg",
	"process_vm_readv", "process_vm_writev", "setsockopt", "getsockopt", "io_setup", "io_submit",
	"execveat", "preadv2", "pwritev2",
}

// x32Table derives the x32 numbers from the x86_64 table, as libseccomp
// numbers x32: the x86_64 number with x32SyscallBit, or the x32 entry
// point for x32Compat. A few x86_64-only calls (uselib, the old module
// calls) keep their number with the bit although the kernel's x32 table
// has nothing there: allowing one allows nothing.
func x32Table() map[string]uint32 {
	x8664 := syscallsX8664()
	t := make(map[string]uint32, len(x8664))
	for name, nr := range x8664 {
		t[name] = nr | x32SyscallBit
	}
	for i, name := range x32Compat {
		t[name] = uint32(512+i) | x32SyscallBit
	}
	return t
}

// armTable is the ARM EABI table with the private calls Docker's profile
// names.
func armTable() map[string]uint32 {
	arm := syscallsARM()
	t := make(map[string]uint32, len(arm)+3)
	for name, nr := range arm {
		t[name] = nr
	}
	t["breakpoint"] = armPrivateBase + 1
	t["cacheflush"] = armPrivateBase + 2
	t["set_tls"] = armPrivateBase + 5
	return t
}
