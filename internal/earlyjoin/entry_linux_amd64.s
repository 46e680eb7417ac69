#include "textflag.h"

// The process's first instruction: one thread, no runtime, the stack as
// the kernel made it (argc at 0(SP)), which _rt0_amd64_linux reads. Only
// AX, CX, DX, SI, DI, R11 and R12 change here.
//
// For fd = FirstFd, FirstFd+1, ... below FirstFd+MaxFds: fstatfs(fd); stop
// unless it is on cgroupfs v1 (CGROUP_SUPER_MAGIC); write(fd, "0", 1),
// which moves this thread, the whole process, into that cgroup; count it
// in joined, or set failed and stop.
TEXT ·entry(SB),NOSPLIT|NOFRAME,$0
	MOVQ	$10, R12		// FirstFd
loop:
	CMPQ	R12, $18		// FirstFd+MaxFds
	JGE	done
	MOVQ	$138, AX		// SYS_fstatfs
	MOVQ	R12, DI
	LEAQ	·statfsBuf(SB), SI
	SYSCALL
	CMPQ	AX, $0
	JNE	done
	MOVQ	·statfsBuf(SB), AX	// f_type
	CMPQ	AX, $0x27e0eb		// CGROUP_SUPER_MAGIC
	JNE	done
	MOVQ	$1, AX			// SYS_write
	MOVQ	R12, DI
	LEAQ	zero<>(SB), SI
	MOVQ	$1, DX
	SYSCALL
	CMPQ	AX, $1
	JNE	fail
	ADDL	$1, ·joined(SB)
	INCQ	R12
	JMP	loop
fail:
	MOVL	$1, ·failed(SB)
done:
	JMP	_rt0_amd64_linux(SB)

DATA zero<>+0(SB)/1, $"0"
GLOBL zero<>(SB), RODATA, $1
