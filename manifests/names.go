package manifests

import (
	"fmt"
	"slices"
	"strings"

	"github.com/berth-project/berth/internal/lazyre"
)

// Name and value rules, as in k8s.io/apimachinery/pkg/util/validation.
// Each check returns "" when the value is fine, or what is wrong and how to
// write it instead.

const (
	dns1123LabelMax     = 63
	dns1123SubdomainMax = 253
	ianaSvcNameMax      = 15
	qualifiedNameMax    = 63
	labelValueMax       = 63
	configKeyMax        = 253
	sysctlNameMax       = 253
	sysctlValueMax      = 4096 // a page: what a sysctl write takes at most
)

var (
	qualifiedNameRE = lazyre.New(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	ianaSvcNameRE   = lazyre.New(`^[-a-z0-9]+$`)
	configKeyRE     = lazyre.New(`^[-._a-zA-Z0-9]+$`)
	sysctlNameRE    = lazyre.New(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)
)

// isDNS1123Label reports whether s matches [a-z0-9]([-a-z0-9]*[a-z0-9])?,
// without a length limit. Names are checked on every apply, by the CLI
// too, where compiling the regular expression would cost more than the
// rest of the validation.
func isDNS1123Label(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func notDNS1123Label(s string) bool { return !isDNS1123Label(s) }

func checkDNS1123Label(s string) string {
	if len(s) > dns1123LabelMax || !isDNS1123Label(s) {
		return fmt.Sprintf("%q is not a valid DNS-1123 label: use at most %d lowercase letters, digits and '-', starting and ending with a letter or digit", clip(s), dns1123LabelMax)
	}
	return ""
}

func checkDNS1123Subdomain(s string) string {
	if len(s) > dns1123SubdomainMax || slices.ContainsFunc(strings.Split(s, "."), notDNS1123Label) {
		return fmt.Sprintf("%q is not a valid DNS-1123 subdomain: use at most %d lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", clip(s), dns1123SubdomainMax)
	}
	return ""
}

// checkPortName applies the IANA service name rules.
func checkPortName(s string) string {
	switch {
	case len(s) > ianaSvcNameMax:
		return fmt.Sprintf("port name %q is longer than %d characters", clip(s), ianaSvcNameMax)
	case !ianaSvcNameRE().MatchString(s):
		return fmt.Sprintf("port name %q may contain only lowercase letters, digits and '-'", clip(s))
	case strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-"):
		return fmt.Sprintf("port name %q must not start or end with '-'", s)
	case strings.Contains(s, "--"):
		return fmt.Sprintf("port name %q must not contain '--'", s)
	case strings.Trim(s, "-0123456789") == "":
		return fmt.Sprintf("port name %q must contain at least one letter", s)
	}
	return ""
}

// checkQualifiedName checks a label or annotation key: an optional DNS
// subdomain prefix and '/', then a name.
func checkQualifiedName(s string) string {
	prefix, name, hasPrefix := strings.Cut(s, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix {
		if prefix == "" {
			return fmt.Sprintf("key %q has an empty prefix before '/'", clip(s))
		}
		if msg := checkDNS1123Subdomain(prefix); msg != "" {
			return "the prefix of key " + fmt.Sprintf("%q", clip(s)) + ": " + msg
		}
	}
	if len(name) > qualifiedNameMax || !qualifiedNameRE().MatchString(name) {
		return fmt.Sprintf("key %q is not a valid name: use at most %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit, with an optional DNS subdomain prefix and '/'", clip(s), qualifiedNameMax)
	}
	return ""
}

func checkLabelValue(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > labelValueMax || !qualifiedNameRE().MatchString(s) {
		return fmt.Sprintf("label value %q is not valid: use at most %d letters, digits, '-', '_' and '.', starting and ending with a letter or digit", clip(s), labelValueMax)
	}
	return ""
}

// checkConfigKey checks a ConfigMap or Secret key (it becomes a file name).
func checkConfigKey(s string) string {
	switch {
	case len(s) > configKeyMax || !configKeyRE().MatchString(s):
		return fmt.Sprintf("key %q is not valid: use at most %d letters, digits, '-', '_' and '.'", clip(s), configKeyMax)
	case s == "." || s == ".." || strings.HasPrefix(s, ".."):
		return fmt.Sprintf("key %q must not be '.' or start with '..'", s)
	}
	return ""
}

// checkEnvName allows what Kubernetes now allows: printable ASCII without
// '='. NUL and '=' would let a name smuggle in another variable.
func checkEnvName(s string) string {
	if s == "" {
		return "name is required"
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return fmt.Sprintf("name %q contains a character that is not printable ASCII", clip(s))
		}
		if r == '=' {
			return fmt.Sprintf("name %q must not contain '='", clip(s))
		}
	}
	return ""
}

// capabilities are the Linux capability names (without CAP_).
var capabilities = map[string]bool{
	"CHOWN": true, "DAC_OVERRIDE": true, "DAC_READ_SEARCH": true, "FOWNER": true,
	"FSETID": true, "KILL": true, "SETGID": true, "SETUID": true, "SETPCAP": true,
	"LINUX_IMMUTABLE": true, "NET_BIND_SERVICE": true, "NET_BROADCAST": true,
	"NET_ADMIN": true, "NET_RAW": true, "IPC_LOCK": true, "IPC_OWNER": true,
	"SYS_MODULE": true, "SYS_RAWIO": true, "SYS_CHROOT": true, "SYS_PTRACE": true,
	"SYS_PACCT": true, "SYS_ADMIN": true, "SYS_BOOT": true, "SYS_NICE": true,
	"SYS_RESOURCE": true, "SYS_TIME": true, "SYS_TTY_CONFIG": true, "MKNOD": true,
	"LEASE": true, "AUDIT_WRITE": true, "AUDIT_CONTROL": true, "SETFCAP": true,
	"MAC_OVERRIDE": true, "MAC_ADMIN": true, "SYSLOG": true, "WAKE_ALARM": true,
	"BLOCK_SUSPEND": true, "AUDIT_READ": true, "PERFMON": true, "BPF": true,
	"CHECKPOINT_RESTORE": true,
}

// NormalizeCapability turns a capability as written in a manifest
// ("net_admin", "CAP_NET_ADMIN", "NET_ADMIN") into its kernel name
// ("CAP_NET_ADMIN"). "ALL" stays "ALL". ok is false for an unknown name.
func NormalizeCapability(name string) (string, bool) {
	up := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	if up == "ALL" {
		return "ALL", true
	}
	if !capabilities[up] {
		return "", false
	}
	return "CAP_" + up, true
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
