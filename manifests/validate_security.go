package manifests

import "strings"

func (v *validator) podSecurity(sc *PodSecurityContext, path string, hostNetwork, hostIPC bool) {
	v.id(joinField(path, "runAsUser"), sc.RunAsUser)
	v.id(joinField(path, "runAsGroup"), sc.RunAsGroup)
	v.id(joinField(path, "fsGroup"), sc.FSGroup)
	for i, g := range sc.SupplementalGroups {
		v.id(joinIndex(joinField(path, "supplementalGroups"), i), &g)
	}
	if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		v.errf(joinField(path, "runAsNonRoot"), "runAsNonRoot is true but runAsUser is 0 (root)")
	}
	v.oneOf(joinField(path, "fsGroupChangePolicy"), sc.FSGroupChangePolicy, "", "OnRootMismatch", "Always")
	seen := map[string]bool{}
	for i, s := range sc.Sysctls {
		spath := joinIndex(joinField(path, "sysctls"), i)
		npath := joinField(spath, "name")
		if msg := checkSysctlName(s.Name, hostNetwork, hostIPC); msg != "" {
			v.errf(npath, "%s", msg)
		} else if norm := NormalizeSysctlName(s.Name); seen[norm] {
			v.errf(npath, "sysctl %q is set more than once", s.Name)
		} else {
			seen[norm] = true
		}
		v.check(joinField(spath, "value"), checkSysctlValue(s.Name, s.Value))
	}
	v.seccomp(sc.SeccompProfile, joinField(path, "seccompProfile"))
	v.appArmor(sc.AppArmorProfile, joinField(path, "appArmorProfile"))
}

func (v *validator) containerSecurity(pod *PodSecurityContext, sc *SecurityContext, path string) {
	v.id(joinField(path, "runAsUser"), sc.RunAsUser)
	v.id(joinField(path, "runAsGroup"), sc.RunAsGroup)
	if sc.Capabilities != nil {
		for _, part := range []struct {
			name string
			caps []string
		}{{"add", sc.Capabilities.Add}, {"drop", sc.Capabilities.Drop}} {
			for i, c := range part.caps {
				if _, ok := NormalizeCapability(c); !ok {
					v.errf(joinIndex(joinField(joinField(path, "capabilities"), part.name), i),
						"%q is not a Linux capability: use a name such as NET_ADMIN or CAP_NET_ADMIN", clip(c))
				}
			}
		}
	}
	if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		v.errf(joinField(path, "allowPrivilegeEscalation"), "cannot be false when privileged is true")
	}
	v.oneOf(joinField(path, "procMount"), sc.ProcMount, "", "Default", "Unmasked")
	v.seccomp(sc.SeccompProfile, joinField(path, "seccompProfile"))
	v.appArmor(sc.AppArmorProfile, joinField(path, "appArmorProfile"))
	// The effective user is the container's, else the pod's.
	user, nonRoot := sc.RunAsUser, sc.RunAsNonRoot
	if pod != nil && user == nil {
		user = pod.RunAsUser
	}
	if pod != nil && nonRoot == nil {
		nonRoot = pod.RunAsNonRoot
	}
	if nonRoot != nil && *nonRoot && user != nil && *user == 0 {
		v.errf(joinField(path, "runAsNonRoot"), "runAsNonRoot is true but the container runs as user 0 (root)")
	}
}

// id checks a uid or gid: negative ids and ids past 2^31-1 are refused
// (CVE-2024-40635 class).
func (v *validator) id(path string, id *int64) {
	if id != nil && (*id < 0 || *id > maxID) {
		v.errf(path, "%d is out of range: use 0 to %d", *id, maxID)
	}
}

func (v *validator) seccomp(p *SeccompProfile, path string) {
	if p == nil {
		return
	}
	v.profile(path, p.Type, p.LocalhostProfile)
	if p.Type == "Localhost" && p.LocalhostProfile != nil && *p.LocalhostProfile != "" {
		// CVE-2023-2431: a profile path must stay inside the profile directory.
		v.relativePath(joinField(path, "localhostProfile"), *p.LocalhostProfile, true)
	}
}

// profile checks the type and localhostProfile shared by seccompProfile
// and appArmorProfile: localhostProfile goes with type Localhost, and only
// with it.
func (v *validator) profile(path, typ string, localhost *string) {
	v.oneOf(joinField(path, "type"), typ, "RuntimeDefault", "Unconfined", "Localhost")
	lpath := joinField(path, "localhostProfile")
	switch {
	case typ == "Localhost" && (localhost == nil || *localhost == ""):
		v.errf(lpath, "localhostProfile is required when type is Localhost")
	case typ != "Localhost" && localhost != nil:
		v.errf(lpath, "localhostProfile may only be set when type is Localhost")
	}
}

// appArmor checks an appArmorProfile field; support.go refuses the types
// other than Unconfined.
func (v *validator) appArmor(p *AppArmorProfile, path string) {
	if p == nil {
		return
	}
	v.profile(path, p.Type, p.LocalhostProfile)
}

// appArmorAnnotationPrefix starts the annotation that set a container's
// AppArmor profile before the appArmorProfile field existed; the kubelet
// still honours it.
const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

// appArmorAnnotations treats the annotations as the appArmorProfile field:
// "unconfined" is what berth gives; "runtime/default" and "localhost/NAME"
// are not supported yet.
func (v *validator) appArmorAnnotations(p *Pod, path string) {
	for _, k := range sortedKeys(p.Annotations) {
		name, ok := strings.CutPrefix(k, appArmorAnnotationPrefix)
		if !ok {
			continue
		}
		kpath := joinKey(path, k)
		if !hasContainer(&p.Spec, name) {
			v.errf(kpath, "the pod has no container %q to give this AppArmor profile to", clip(name))
			continue
		}
		val := p.Annotations[k]
		switch {
		case val == "unconfined":
		case val == "runtime/default" || strings.HasPrefix(val, "localhost/") && len(val) > len("localhost/"):
			v.add(Unsupported, kpath, "AppArmor profile %q is not supported yet by berth%s; use \"unconfined\"", clip(val), appArmorDetail)
		default:
			v.errf(kpath, "AppArmor profile %q is not valid: use \"unconfined\", \"runtime/default\" or \"localhost/NAME\"", clip(val))
		}
	}
}

func hasContainer(s *PodSpec, name string) bool {
	for _, list := range [][]Container{s.InitContainers, s.Containers} {
		for i := range list {
			if list[i].Name == name {
				return true
			}
		}
	}
	return false
}
