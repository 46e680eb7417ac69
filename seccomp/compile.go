package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/seccompload"
)

// SECCOMP_RET_* actions (linux/seccomp.h).
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
)

// retBadArch answers a system call of an ABI the filter does not list: a
// process using an unexpected ABI is a bug or an attack, and libseccomp's
// default for it is to kill as well.
const retBadArch = retKillProcess

// maxErrno is the largest errno a filter may return (MAX_ERRNO).
const maxErrno = 4095

// seccomp_data offsets (linux/seccomp.h); the arguments are 64-bit words,
// their low half first on the little-endian ABIs berth supports.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// filterFlags are the SECCOMP_FILTER_FLAG_* names a profile may ask for.
// TSYNC is the loader's choice, not the profile's.
var filterFlags = map[specs.LinuxSeccompFlag]uint32{
	specs.LinuxSeccompFlagLog:       unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow: unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
}

// subArches are the ABIs a native architecture can run.
var subArches = map[specs.Arch][]specs.Arch{
	specs.ArchX86_64:  {specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
	specs.ArchAARCH64: {specs.ArchAARCH64, specs.ArchARM},
}

// rule is one conditional rule: every condition must hold.
type rule struct {
	conds []specs.LinuxSeccompArg
	ret   uint32
}

// callRules are the rules of one syscall number: the conditional ones are
// tried in profile order, then the unconditional action (or the default).
type callRules struct {
	name   string
	rules  []rule
	uncond *uint32
}

// compile turns a resolved profile into a BPF program for a host of the
// given native architecture.
//
// Semantics are libseccomp's as runc drives it: names a table does not
// know are skipped; the conditions of one entry must all hold, except that
// several conditions on the same argument are separate rules any of which
// may match (runc's reading); a syscall number above the highest one the
// profile names for an ABI returns ENOSYS, so that libc falls back from a
// call newer than the profile (runc does the same), unless the default
// action allows or logs.
func compile(spec *specs.LinuxSeccomp, native specs.Arch) (*seccompload.Filter, error) {
	if spec.ListenerPath != "" || spec.ListenerMetadata != "" {
		return nil, fmt.Errorf("listenerPath: seccomp notification is not supported")
	}
	var flags uint32
	for i, f := range spec.Flags {
		v, ok := filterFlags[f]
		if !ok {
			return nil, fmt.Errorf("flags[%d]: %q is not supported: use SECCOMP_FILTER_FLAG_LOG or SECCOMP_FILTER_FLAG_SPEC_ALLOW", i, f)
		}
		flags |= v
	}
	def, err := action(spec.DefaultAction, spec.DefaultErrnoRet, "defaultAction")
	if err != nil {
		return nil, err
	}
	var abis []*arch
	for _, a := range spec.Architectures {
		if slices.Contains(subArches[native], a) && !slices.ContainsFunc(abis, func(x *arch) bool { return x.spec == a }) {
			abis = append(abis, arches()[a])
		}
	}
	if len(spec.Architectures) == 0 {
		abis = []*arch{arches()[native]}
	}
	if len(abis) == 0 {
		return nil, fmt.Errorf("architectures: none of %v runs on %s", spec.Architectures, native)
	}
	sections := make(map[specs.Arch]archRules, len(abis))
	for _, a := range abis {
		r, err := rulesFor(spec, a)
		if err != nil {
			return nil, err
		}
		sections[a.spec] = r
	}
	enosys := def != retAllow && def != retLog

	var p asm
	badArch := p.ret(retBadArch)
	next := badArch
	// One test of seccomp_data.arch per ABI; x32 shares x86_64's value.
	x32Section := badArch
	if r, ok := sections[specs.ArchX32]; ok {
		x32Section = emitSection(&p, arches()[specs.ArchX32], r, def, enosys)
	}
	for _, a := range slices.Backward(abis) {
		if a.x32 {
			continue
		}
		start := emitSection(&p, a, sections[a.spec], def, enosys)
		if a.spec == specs.ArchX86_64 {
			start = p.load(offNr, p.jump(bpf.JumpBitsSet, x32SyscallBit, x32Section, start))
		} else {
			start = p.load(offNr, start)
		}
		next = p.jump(bpf.JumpEqual, a.audit, start, next)
	}
	if _, ok := sections[specs.ArchX86_64]; !ok && x32Section != badArch {
		next = p.jump(bpf.JumpEqual, auditArchX8664, p.load(offNr, p.jump(bpf.JumpBitsSet, x32SyscallBit, x32Section, badArch)), next)
	}
	p.load(offArch, next)

	prog := p.program()
	if len(prog) > seccompload.MaxInstructions {
		return nil, fmt.Errorf("the filter has %d instructions, more than the kernel's %d", len(prog), seccompload.MaxInstructions)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble filter: %w", err)
	}
	out := make([]byte, 0, len(raw)*seccompload.InstructionSize)
	for _, r := range raw {
		out = binary.NativeEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.NativeEndian.AppendUint32(out, r.K)
	}
	return &seccompload.Filter{Program: out, Flags: flags}, nil
}

// archRules are one ABI's rules by syscall number, and the highest
// ordinary number the profile names.
type archRules struct {
	calls map[uint32]*callRules
	max   uint32
}

func rulesFor(spec *specs.LinuxSeccomp, a *arch) (archRules, error) {
	out := archRules{calls: map[uint32]*callRules{}}
	for i, sc := range spec.Syscalls {
		where := fmt.Sprintf("syscalls[%d]", i)
		ret, err := action(sc.Action, sc.ErrnoRet, where+".action")
		if err != nil {
			return archRules{}, err
		}
		rules, err := splitArgs(sc.Args, ret, where)
		if err != nil {
			return archRules{}, err
		}
		for _, name := range sc.Names {
			nr, ok := a.table[name]
			if !ok {
				continue
			}
			if nr < a.ordinaryEnd && nr > out.max {
				out.max = nr
			}
			c := out.calls[nr]
			if c == nil {
				c = &callRules{name: name}
				out.calls[nr] = c
			}
			if rules != nil {
				c.rules = append(c.rules, rules...)
				continue
			}
			if c.uncond != nil && *c.uncond != ret {
				return archRules{}, fmt.Errorf("%s: %s already has another action", where, name)
			}
			c.uncond = &ret
		}
	}
	return out, nil
}

// splitArgs makes an entry's conditions into rules: one rule of all of
// them, or, when an argument is named more than once, one rule each.
func splitArgs(args []specs.LinuxSeccompArg, ret uint32, where string) ([]rule, error) {
	if len(args) == 0 {
		return nil, nil
	}
	seen := map[uint]bool{}
	repeated := false
	for j, c := range args {
		if c.Index > 5 {
			return nil, fmt.Errorf("%s.args[%d].index: %d is not an argument (0 to 5)", where, j, c.Index)
		}
		if !slices.Contains(operators, c.Op) {
			return nil, fmt.Errorf("%s.args[%d].op: %q is not an operator", where, j, c.Op)
		}
		repeated = repeated || seen[c.Index]
		seen[c.Index] = true
	}
	if !repeated {
		return []rule{{conds: args, ret: ret}}, nil
	}
	out := make([]rule, len(args))
	for j, c := range args {
		out[j] = rule{conds: []specs.LinuxSeccompArg{c}, ret: ret}
	}
	return out, nil
}

var operators = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
}

// action is the SECCOMP_RET value of a profile action.
func action(act specs.LinuxSeccompAction, errnoRet *uint, field string) (uint32, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > maxErrno {
			return 0, fmt.Errorf("%s: errnoRet %d is above %d", field, *errnoRet, maxErrno)
		}
		data = uint32(*errnoRet)
	}
	switch act {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | data, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | data, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("%s: SCMP_ACT_NOTIFY is not supported", field)
	}
	return 0, fmt.Errorf("%s: %q is not a seccomp action", field, act)
}

// segment is a run of syscall numbers from lo up to the next segment's lo
// with one fixed answer, or a single number with rules.
type segment struct {
	lo    uint32
	ret   uint32
	rules *callRules
}

// emitSection emits the decision for one ABI, entered with the syscall
// number in A: ENOSYS above what the profile knows, then a binary search
// over runs of numbers with the same answer.
func emitSection(p *asm, a *arch, r archRules, def uint32, enosys bool) label {
	nrs := make([]uint32, 0, len(r.calls))
	for nr := range r.calls {
		nrs = append(nrs, nr)
	}
	sort.Slice(nrs, func(i, j int) bool { return nrs[i] < nrs[j] })
	var segs []segment
	add := func(s segment) {
		if n := len(segs); n > 0 && segs[n-1].lo == s.lo {
			segs = segs[:n-1]
		}
		if n := len(segs); n > 0 && s.rules == nil && segs[n-1].rules == nil && segs[n-1].ret == s.ret {
			return
		}
		segs = append(segs, s)
	}
	add(segment{lo: 0, ret: def})
	for _, nr := range nrs {
		c := r.calls[nr]
		switch {
		case len(c.rules) > 0:
			add(segment{lo: nr, rules: c})
		case c.uncond != nil:
			add(segment{lo: nr, ret: *c.uncond})
		default:
			add(segment{lo: nr, ret: def})
		}
		if nr != ^uint32(0) {
			add(segment{lo: nr + 1, ret: def})
		}
	}
	tree := emitTree(p, segs, def, a.wide)
	if !enosys || len(r.calls) == 0 {
		// A profile that names no syscall of this ABI knows none: nothing
		// is "newer" than it.
		return tree
	}
	start := p.jump(bpf.JumpGreaterThan, r.max, p.ret(retErrno|uint32(unix.ENOSYS)), tree)
	if a.ordinaryEnd != ^uint32(0) {
		start = p.jump(bpf.JumpGreaterOrEqual, a.ordinaryEnd, tree, start)
	}
	return start
}

func emitTree(p *asm, segs []segment, def uint32, wide bool) label {
	if len(segs) == 1 {
		s := segs[0]
		if s.rules == nil {
			return p.ret(s.ret)
		}
		fallback := def
		if s.rules.uncond != nil {
			fallback = *s.rules.uncond
		}
		next := p.ret(fallback)
		for _, r := range slices.Backward(s.rules.rules) {
			next = emitRule(p, r, p.ret(r.ret), next, wide)
		}
		return next
	}
	mid := len(segs) / 2
	right := emitTree(p, segs[mid:], def, wide)
	left := emitTree(p, segs[:mid], def, wide)
	return p.jump(bpf.JumpGreaterOrEqual, segs[mid].lo, right, left)
}

// emitRule goes to match when every condition of r holds, else to fail.
func emitRule(p *asm, r rule, match, fail label, wide bool) label {
	next := match
	for _, c := range slices.Backward(r.conds) {
		next = emitCond(p, c, next, fail, wide)
	}
	return next
}

// emitCond compares a 64-bit argument in two 32-bit halves, the high half
// first; on a 32-bit ABI only the low half exists and the high half is
// taken as zero.
func emitCond(p *asm, c specs.LinuxSeccompArg, t, f label, wide bool) label {
	lo, hi := uint32(offArgs+8*c.Index), uint32(offArgs+8*c.Index+4)
	vlo, vhi := uint32(c.Value), uint32(c.Value>>32)
	if c.Op == specs.OpMaskedEqual {
		// value is the mask, valueTwo the wanted result.
		wlo, whi := uint32(c.ValueTwo), uint32(c.ValueTwo>>32)
		if !wide && whi != 0 {
			return f
		}
		low := p.load(lo, p.seq(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: vlo}, p.jump(bpf.JumpEqual, wlo, t, f)))
		if !wide {
			return low
		}
		return p.load(hi, p.seq(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: vhi}, p.jump(bpf.JumpEqual, whi, low, f)))
	}
	// The high half decides unless it equals vhi: then the low half does.
	var above, below label // where an argument whose high half is above or below vhi goes
	switch c.Op {
	case specs.OpEqualTo:
		above, below = f, f
	case specs.OpNotEqual:
		above, below = t, t
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		above, below = t, f
	default: // OpLessThan, OpLessEqual
		above, below = f, t
	}
	if !wide && vhi != 0 {
		return below // the high half is zero, below vhi
	}
	var low label
	switch c.Op {
	case specs.OpEqualTo:
		low = p.jump(bpf.JumpEqual, vlo, t, f)
	case specs.OpNotEqual:
		low = p.jump(bpf.JumpEqual, vlo, f, t)
	case specs.OpGreaterThan:
		low = p.jump(bpf.JumpGreaterThan, vlo, t, f)
	case specs.OpGreaterEqual:
		low = p.jump(bpf.JumpGreaterOrEqual, vlo, t, f)
	case specs.OpLessThan:
		low = p.jump(bpf.JumpGreaterOrEqual, vlo, f, t)
	default: // OpLessEqual
		low = p.jump(bpf.JumpGreaterThan, vlo, f, t)
	}
	low = p.load(lo, low)
	if !wide {
		return low
	}
	eq := p.jump(bpf.JumpEqual, vhi, low, below)
	return p.load(hi, p.jump(bpf.JumpGreaterThan, vhi, above, eq))
}
