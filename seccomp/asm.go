package seccomp

import "golang.org/x/net/bpf"

// asm builds a classic BPF program back to front, so that every jump is
// forward to code that already exists and its distance is known when it
// is emitted. A label is an instruction's index from the end.
type asm struct{ rev []bpf.Instruction }

type label int

// emit prepends in; its successor is the instruction emitted before it.
func (a *asm) emit(in bpf.Instruction) label {
	a.rev = append(a.rev, in)
	return label(len(a.rev) - 1)
}

// dist is how many instructions the next emitted one skips to reach to.
func (a *asm) dist(to label) int { return len(a.rev) - int(to) - 1 }

// ret returns v.
func (a *asm) ret(v uint32) label { return a.emit(bpf.RetConstant{Val: v}) }

// seq emits in, which does not jump, followed by next.
func (a *asm) seq(in bpf.Instruction, next label) label {
	if a.dist(next) != 0 {
		a.emit(bpf.Jump{Skip: uint32(a.dist(next))})
	}
	return a.emit(in)
}

// load loads the 32-bit word at off of seccomp_data, then goes to next.
func (a *asm) load(off uint32, next label) label {
	return a.seq(bpf.LoadAbsolute{Off: off, Size: 4}, next)
}

// jump goes to jt when A cond val holds, else to jf. A conditional jump
// reaches 255 instructions; farther targets go through an unconditional
// jump placed right after it.
func (a *asm) jump(cond bpf.JumpTest, val uint32, jt, jf label) label {
	if a.dist(jf) > 254 {
		jf = a.emit(bpf.Jump{Skip: uint32(a.dist(jf))})
	}
	if a.dist(jt) > 255 {
		jt = a.emit(bpf.Jump{Skip: uint32(a.dist(jt))})
	}
	return a.emit(bpf.JumpIf{Cond: cond, Val: val, SkipTrue: uint8(a.dist(jt)), SkipFalse: uint8(a.dist(jf))})
}

// program returns the instructions in execution order.
func (a *asm) program() []bpf.Instruction {
	out := make([]bpf.Instruction, len(a.rev))
	for i, in := range a.rev {
		out[len(a.rev)-1-i] = in
	}
	return out
}
