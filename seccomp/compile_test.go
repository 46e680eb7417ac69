package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/container"
	"github.com/berth-project/berth/internal/seccompload"
)

var testKernel = Kernel{Major: 6, Minor: 1}

// vm runs a compiled filter in x/net/bpf's interpreter.
type vm struct {
	t  *testing.T
	vm *bpf.VM
}

func newVM(t *testing.T, f *seccompload.Filter) vm {
	t.Helper()
	if f == nil {
		t.Fatal("no filter")
	}
	raw := make([]bpf.RawInstruction, len(f.Program)/seccompload.InstructionSize)
	for i := range raw {
		b := f.Program[i*seccompload.InstructionSize:]
		raw[i] = bpf.RawInstruction{Op: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("the filter has an instruction x/net/bpf cannot decode")
	}
	m, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("load filter into the BPF VM: %v", err)
	}
	return vm{t: t, vm: m}
}

// run returns the filter's answer for one seccomp_data record. The VM
// reads words big-endian, the kernel in host order: each 32-bit word is
// written so that the VM sees the value the kernel would.
func (v vm) run(audit, nr uint32, args ...uint64) uint32 {
	v.t.Helper()
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], nr)
	binary.BigEndian.PutUint32(data[4:], audit)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[20+8*i:], uint32(a>>32))
	}
	r, err := v.vm.Run(data)
	if err != nil {
		v.t.Fatalf("run filter: %v", err)
	}
	return uint32(r)
}

func answer(r uint32) string {
	switch {
	case r == retAllow:
		return "allow"
	case r == retKillProcess:
		return "kill"
	case r&0xffff0000 == retErrno:
		return unix.Errno(r & 0xffff).Error()
	}
	return fmt.Sprintf("%#x", r)
}

var (
	allow  = answer(retAllow)
	eperm  = answer(retErrno | uint32(unix.EPERM))
	enosys = answer(retErrno | uint32(unix.ENOSYS))
	kill   = answer(retKillProcess)
)

func defaultFilter(t *testing.T, goarch string, caps []string) vm {
	t.Helper()
	f, err := Build(mobyseccomp.DefaultProfile(), Target{Caps: caps, GOARCH: goarch, Kernel: testKernel})
	if err != nil {
		t.Fatal(err)
	}
	return newVM(t, f)
}

type call struct {
	name  string
	audit uint32
	nr    uint32
	args  []uint64
	want  string
}

func check(t *testing.T, v vm, calls []call) {
	t.Helper()
	for _, c := range calls {
		if got := answer(v.run(c.audit, c.nr, c.args...)); got != c.want {
			t.Errorf("%s (arch %#x, nr %#x, args %#x): %s, want %s", c.name, c.audit, c.nr, c.args, got, c.want)
		}
	}
}

func TestRuntimeDefaultAMD64(t *testing.T) {
	v := defaultFilter(t, "amd64", container.DefaultCapabilities())
	x, i386, x32 := uint32(auditArchX8664), uint32(auditArchI386), uint32(auditArchX8664)
	nr := func(table map[string]uint32, name string) uint32 {
		n, ok := table[name]
		if !ok {
			t.Fatalf("no syscall %s", name)
		}
		return n
	}
	n64 := func(name string) uint32 { return nr(syscallsX8664(), name) }
	n32 := func(name string) uint32 { return nr(syscallsX86(), name) }
	nx32 := func(name string) uint32 { return nr(arches()[specs.ArchX32].table, name) }
	check(t, v, []call{
		{"read", x, n64("read"), nil, allow},
		{"write", x, n64("write"), nil, allow},
		{"execve", x, n64("execve"), nil, allow},
		{"keyctl", x, n64("keyctl"), nil, eperm},
		{"add_key", x, n64("add_key"), nil, eperm},
		{"request_key", x, n64("request_key"), nil, eperm},
		{"io_uring_setup", x, n64("io_uring_setup"), nil, eperm},
		{"bpf", x, n64("bpf"), nil, eperm},
		{"perf_event_open", x, n64("perf_event_open"), nil, eperm},
		{"mount", x, n64("mount"), nil, eperm},
		{"unshare(CLONE_NEWUSER)", x, n64("unshare"), []uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone(CLONE_NEWUSER)", x, n64("clone"), []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, eperm},
		{"clone(CLONE_NEWNET)", x, n64("clone"), []uint64{unix.CLONE_NEWNET}, eperm},
		{"clone(thread)", x, n64("clone"), []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD}, allow},
		{"clone(namespace bit in the high half)", x, n64("clone"), []uint64{1 << 40}, allow},
		{"clone3", x, n64("clone3"), nil, enosys},
		{"socket(AF_VSOCK)", x, n64("socket"), []uint64{unix.AF_VSOCK}, eperm},
		{"socket(AF_ALG)", x, n64("socket"), []uint64{unix.AF_ALG}, eperm},
		{"socket(AF_INET)", x, n64("socket"), []uint64{unix.AF_INET, unix.SOCK_STREAM}, allow},
		{"socket(AF_UNIX)", x, n64("socket"), []uint64{unix.AF_UNIX}, allow},
		{"socket(AF_NETLINK)", x, n64("socket"), []uint64{unix.AF_NETLINK}, allow},
		{"socket(AF_INET6)", x, n64("socket"), []uint64{unix.AF_INET6}, allow},
		{"socket(AF_INET + 2^32)", x, n64("socket"), []uint64{1<<32 | unix.AF_INET}, eperm},
		{"personality(0)", x, n64("personality"), []uint64{0}, allow},
		{"personality(0xffffffff)", x, n64("personality"), []uint64{0xffffffff}, allow},
		{"personality(READ_IMPLIES_EXEC)", x, n64("personality"), []uint64{0x0400000}, eperm},
		{"arch_prctl", x, n64("arch_prctl"), nil, allow},
		{"chroot (CAP_SYS_CHROOT by default)", x, n64("chroot"), nil, allow},
		{"kcmp (no CAP_SYS_PTRACE)", x, n64("kcmp"), nil, eperm},
		{"ptrace (kernel >= 4.8)", x, n64("ptrace"), nil, allow},
		{"beyond the profile", x, 1000, nil, enosys},
		{"beyond the profile, just", x, slices.Max(mapsValues(syscallsX8664())) + 1, nil, enosys},
		{"-1 (a skipped syscall)", x, 0xffffffff, nil, enosys},
		{"i386 read", i386, n32("read"), nil, allow},
		{"i386 socketcall", i386, n32("socketcall"), nil, allow},
		{"i386 keyctl", i386, n32("keyctl"), nil, eperm},
		{"i386 clone(CLONE_NEWUSER)", i386, n32("clone"), []uint64{unix.CLONE_NEWUSER}, eperm},
		{"i386 socket(AF_VSOCK)", i386, n32("socket"), []uint64{unix.AF_VSOCK}, eperm},
		{"i386 beyond the profile", i386, 1000, nil, enosys},
		{"x32 read", x32, nx32("read"), nil, allow},
		{"x32 rt_sigaction (x32 number)", x32, nx32("rt_sigaction"), nil, allow},
		{"x32 rt_sigaction (x86_64 number)", x32, n64("rt_sigaction") | x32SyscallBit, nil, eperm},
		{"x32 keyctl", x32, nx32("keyctl"), nil, eperm},
		{"x32 beyond the profile", x32, 1000 | x32SyscallBit, nil, enosys},
		{"arm64 ABI", auditArchAArch64, 63, nil, kill},
		{"arm ABI", auditArchARM, 3, nil, kill},
	})
}

func mapsValues(m map[string]uint32) []uint32 {
	out := make([]uint32, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestRuntimeDefaultARM64(t *testing.T) {
	v := defaultFilter(t, "arm64", container.DefaultCapabilities())
	a, arm := uint32(auditArchAArch64), uint32(auditArchARM)
	n := func(name string) uint32 { return syscallsAArch64()[name] }
	na := func(name string) uint32 { return armTable()[name] }
	check(t, v, []call{
		{"read", a, n("read"), nil, allow},
		{"write", a, n("write"), nil, allow},
		{"execve", a, n("execve"), nil, allow},
		{"keyctl", a, n("keyctl"), nil, eperm},
		{"add_key", a, n("add_key"), nil, eperm},
		{"io_uring_setup", a, n("io_uring_setup"), nil, eperm},
		{"bpf", a, n("bpf"), nil, eperm},
		{"perf_event_open", a, n("perf_event_open"), nil, eperm},
		{"unshare(CLONE_NEWUSER)", a, n("unshare"), []uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone(CLONE_NEWUSER)", a, n("clone"), []uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone(SIGCHLD)", a, n("clone"), []uint64{uint64(unix.SIGCHLD)}, allow},
		{"socket(AF_VSOCK)", a, n("socket"), []uint64{unix.AF_VSOCK}, eperm},
		{"socket(AF_INET)", a, n("socket"), []uint64{unix.AF_INET}, allow},
		{"beyond the profile", a, 1000, nil, enosys},
		{"arch_prctl is x86 only", a, 1000, nil, enosys},
		{"arm read", arm, na("read"), nil, allow},
		{"arm keyctl", arm, na("keyctl"), nil, eperm},
		{"arm set_tls", arm, na("set_tls"), nil, allow},
		{"arm cacheflush", arm, na("cacheflush"), nil, allow},
		{"arm private call the profile does not name", arm, armPrivateBase + 3, nil, eperm},
		{"arm socket(AF_VSOCK)", arm, na("socket"), []uint64{unix.AF_VSOCK}, eperm},
		{"arm clone(CLONE_NEWUSER)", arm, na("clone"), []uint64{unix.CLONE_NEWUSER}, eperm},
		{"arm beyond the profile", arm, 1000, nil, enosys},
		{"x86_64 ABI", auditArchX8664, 0, nil, kill},
		{"i386 ABI", auditArchI386, 3, nil, kill},
	})
}

// Capabilities flip the entries Docker conditions on them.
func TestRuntimeDefaultCapabilities(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64"} {
		t.Run(goarch, func(t *testing.T) {
			audit, table := uint32(auditArchX8664), syscallsX8664()
			if goarch == "arm64" {
				audit, table = auditArchAArch64, syscallsAArch64()
			}
			base := container.DefaultCapabilities()
			without := func(c string) []string {
				return slices.DeleteFunc(slices.Clone(base), func(x string) bool { return x == c })
			}
			for _, tc := range []struct {
				caps        []string
				name        string
				args        []uint64
				without, on string
			}{
				{append(base, "CAP_SYS_ADMIN"), "unshare", []uint64{unix.CLONE_NEWUSER}, eperm, allow},
				{append(base, "CAP_SYS_ADMIN"), "clone", []uint64{unix.CLONE_NEWUSER}, eperm, allow},
				{append(base, "CAP_SYS_ADMIN"), "clone3", nil, enosys, allow},
				{append(base, "CAP_SYS_ADMIN"), "mount", nil, eperm, allow},
				{append(base, "CAP_SYS_ADMIN"), "setns", nil, eperm, allow},
				{append(base, "CAP_BPF"), "bpf", nil, eperm, allow},
				{append(base, "CAP_PERFMON"), "perf_event_open", nil, eperm, allow},
				{append(base, "CAP_SYS_PTRACE"), "kcmp", nil, eperm, allow},
				{append(base, "CAP_SYS_MODULE"), "finit_module", nil, eperm, allow},
				{append(base, "CAP_SYS_TIME"), "settimeofday", nil, eperm, allow},
				{append(base, "CAP_SYS_BOOT"), "reboot", nil, eperm, allow},
			} {
				off := defaultFilter(t, goarch, base)
				on := defaultFilter(t, goarch, tc.caps)
				nr := table[tc.name]
				if got := answer(off.run(audit, nr, tc.args...)); got != tc.without {
					t.Errorf("%s without %s: %s, want %s", tc.name, tc.caps[len(tc.caps)-1], got, tc.without)
				}
				if got := answer(on.run(audit, nr, tc.args...)); got != tc.on {
					t.Errorf("%s with %s: %s, want %s", tc.name, tc.caps[len(tc.caps)-1], got, tc.on)
				}
			}
			dropped := defaultFilter(t, goarch, without("CAP_SYS_CHROOT"))
			if got := answer(dropped.run(audit, table["chroot"])); got != eperm {
				t.Errorf("chroot without CAP_SYS_CHROOT: %s, want %s", got, eperm)
			}
		})
	}
}

// Every comparison operator, on a 64-bit ABI (both halves) and a 32-bit
// one (the low half only), against the same decision made in Go.
func TestArgumentOperators(t *testing.T) {
	values := []uint64{0, 1, 41, 42, 43, 0xffffffff, 1 << 32, 1<<32 | 42, 2<<32 | 7, ^uint64(0)}
	for _, tc := range []struct {
		op         specs.LinuxSeccompOperator
		value, two uint64
		holds      func(a uint64) bool
	}{
		{specs.OpEqualTo, 42, 0, func(a uint64) bool { return a == 42 }},
		{specs.OpNotEqual, 42, 0, func(a uint64) bool { return a != 42 }},
		{specs.OpLessThan, 42, 0, func(a uint64) bool { return a < 42 }},
		{specs.OpLessEqual, 42, 0, func(a uint64) bool { return a <= 42 }},
		{specs.OpGreaterThan, 42, 0, func(a uint64) bool { return a > 42 }},
		{specs.OpGreaterEqual, 42, 0, func(a uint64) bool { return a >= 42 }},
		{specs.OpEqualTo, 1<<32 | 42, 0, func(a uint64) bool { return a == 1<<32|42 }},
		{specs.OpGreaterThan, 1<<32 | 42, 0, func(a uint64) bool { return a > 1<<32|42 }},
		{specs.OpLessThan, 1<<32 | 42, 0, func(a uint64) bool { return a < 1<<32|42 }},
		{specs.OpMaskedEqual, 0xff, 42, func(a uint64) bool { return a&0xff == 42 }},
		{specs.OpMaskedEqual, 1<<32 | 0xff, 1<<32 | 42, func(a uint64) bool { return a&(1<<32|0xff) == 1<<32|42 }},
	} {
		profile := &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"personality"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 2, Op: tc.op, Value: tc.value, ValueTwo: tc.two}},
			}},
		}
		f, err := compile(profile, specs.ArchX86_64)
		if err != nil {
			t.Fatal(err)
		}
		v := newVM(t, f)
		for _, a := range values {
			want := eperm
			if tc.holds(a) {
				want = allow
			}
			if got := answer(v.run(auditArchX8664, syscallsX8664()["personality"], 0, 0, a)); got != want {
				t.Errorf("x86_64: arg %#x %s %#x (%#x): %s, want %s", a, tc.op, tc.value, tc.two, got, want)
			}
			// On a 32-bit ABI the argument is 32 bits: the kernel passes
			// its low half, zero-extended.
			a32 := uint64(uint32(a))
			want = eperm
			if tc.holds(a32) {
				want = allow
			}
			if got := answer(v.run(auditArchI386, syscallsX86()["personality"], 0, 0, a)); got != want {
				t.Errorf("i386: arg %#x %s %#x (%#x): %s, want %s", a32, tc.op, tc.value, tc.two, got, want)
			}
		}
	}
}

// Conditions on different arguments must all hold; several on the same
// argument are alternatives (runc's reading of the OCI profile).
func TestArgumentRulesCombine(t *testing.T) {
	profile := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: ptr(uint(unix.EACCES)),
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"setns"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 3}, {Index: 1, Op: specs.OpEqualTo, Value: 5},
			}},
			{Names: []string{"kcmp"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 3}, {Index: 0, Op: specs.OpEqualTo, Value: 5},
			}},
			{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.EIO))},
		},
	}
	f, err := compile(profile, specs.ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	v := newVM(t, f)
	eacces := answer(retErrno | uint32(unix.EACCES))
	check(t, v, []call{
		{"setns(3, 5)", auditArchX8664, syscallsX8664()["setns"], []uint64{3, 5}, allow},
		{"setns(3, 4)", auditArchX8664, syscallsX8664()["setns"], []uint64{3, 4}, eacces},
		{"setns(5, 5)", auditArchX8664, syscallsX8664()["setns"], []uint64{5, 5}, eacces},
		{"kcmp(3)", auditArchX8664, syscallsX8664()["kcmp"], []uint64{3}, allow},
		{"kcmp(5)", auditArchX8664, syscallsX8664()["kcmp"], []uint64{5}, allow},
		{"kcmp(4)", auditArchX8664, syscallsX8664()["kcmp"], []uint64{4}, eacces},
		{"getpid", auditArchX8664, syscallsX8664()["getpid"], nil, answer(retErrno | uint32(unix.EIO))},
		{"read (default action)", auditArchX8664, syscallsX8664()["read"], nil, eacces},
		{"above the profile", auditArchX8664, syscallsX8664()["kcmp"] + 1, nil, enosys},
		{"below the profile's highest", auditArchX8664, syscallsX8664()["setns"] + 1, nil, eacces},
		{"x32 is not listed", auditArchX8664, x32SyscallBit, nil, kill},
		{"i386 is not listed", auditArchI386, 3, nil, kill},
	})
}

func ptr[T any](v T) *T { return &v }

// A profile that names no syscall answers everything with its default.
func TestProfileWithoutSyscalls(t *testing.T) {
	f, err := compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno}, specs.ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	v := newVM(t, f)
	check(t, v, []call{
		{"read", auditArchX8664, 0, nil, eperm},
		{"keyctl", auditArchX8664, syscallsX8664()["keyctl"], nil, eperm},
		{"beyond every table", auditArchX8664, 5000, nil, eperm},
	})
}

func TestCompileRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile specs.LinuxSeccomp
	}{
		{"notify", specs.LinuxSeccomp{DefaultAction: specs.ActNotify}},
		{"unknown action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}},
		{"errno too large", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: ptr(uint(70000))}},
		{"listener", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, ListenerPath: "/run/x.sock"}},
		{"flag", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"}}},
		{"argument index", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}},
		{"operator", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_SOMETIMES"}}}}}},
		{"two actions", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow}, {Names: []string{"read"}, Action: specs.ActKillProcess}}}},
		{"foreign arch only", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchS390X}}},
	} {
		if _, err := compile(&tc.profile, specs.ArchX86_64); err == nil {
			t.Errorf("%s: compiled, want an error", tc.name)
		}
	}
}

// The default filter, three ABIs on amd64, stays well below the kernel's
// limit of 4096 instructions.
func TestRuntimeDefaultSize(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64"} {
		f, err := Build(mobyseccomp.DefaultProfile(), Target{Caps: container.DefaultCapabilities(), GOARCH: goarch, Kernel: testKernel})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(f.Program) / seccompload.InstructionSize; n > 2048 {
			t.Errorf("%s: %d instructions", goarch, n)
		}
	}
}
