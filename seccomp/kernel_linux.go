package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// hostKernel is the running kernel's version; a zero version (uname
// failing, which does not happen) makes every minKernel rule not apply.
func hostKernel() Kernel {
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return Kernel{}
	}
	var k Kernel
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &k.Major, &k.Minor)
	return k
}
