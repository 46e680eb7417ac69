package podid

import (
	"strings"
	"testing"
)

func TestKernelID(t *testing.T) {
	short := "default_web"
	if KernelID(short) != short {
		t.Errorf("KernelID(%q) = %q, want it unchanged", short, KernelID(short))
	}
	a := strings.Repeat("n", 63) + "_" + strings.Repeat("p", 253)
	b := strings.Repeat("n", 63) + "_" + strings.Repeat("p", 252) + "q"
	if len(KernelID(a)) > maxKernelID || KernelID(a) == KernelID(b) {
		t.Errorf("long identities: %q (%d bytes) and %q", KernelID(a), len(KernelID(a)), KernelID(b))
	}
}
