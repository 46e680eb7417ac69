package manifests

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// Limits on values that Kubernetes leaves open, so that hostile input
// cannot make berth allocate or write without bound.
const (
	maxStringLen      = 32 << 10  // any single string in a pod spec
	maxAnnotationsLen = 256 << 10 // all annotation keys and values together
	maxNameservers    = 3
	maxSearches       = 32
	maxSearchesLen    = 2048
	maxID             = math.MaxInt32 // uids and gids (docs/security.md rule 7)
	maxFileMode       = 0o777
)

// validator collects problems with their paths.
type validator struct{ probs []Problem }

func (v *validator) add(sev Severity, path, format string, args ...any) {
	v.probs = append(v.probs, Problem{Path: path, Severity: sev, Message: fmt.Sprintf(format, args...), Document: -1})
}

func (v *validator) errf(path, format string, args ...any) { v.add(Error, path, format, args...) }

// check records msg as an error at path unless it is empty.
func (v *validator) check(path, msg string) {
	if msg != "" {
		v.errf(path, "%s", msg)
	}
}

// ValidatePod checks p with Kubernetes' rules and berth's support table
// (support.go). It works on defaulted and undefaulted pods. The problems
// carry Path, Severity and Message; the parser adds file, document and line.
func ValidatePod(p *Pod) []Problem {
	v := &validator{}
	v.objectMeta(&p.ObjectMeta, "metadata")
	v.podSpec(&p.Spec, "spec")
	v.appArmorAnnotations(p, joinField("metadata", "annotations"))
	v.berthAnnotations(p, joinField("metadata", "annotations"))
	checkUnsupported(p, func(path, msg string) { v.add(Unsupported, path, "%s", msg) })
	v.strings(reflect.ValueOf(&p.Spec).Elem(), "spec")
	return v.probs
}

func (v *validator) objectMeta(m *ObjectMeta, path string) {
	if m.Name == "" {
		v.errf(joinField(path, "name"), "name is required")
	} else {
		v.check(joinField(path, "name"), checkDNS1123Subdomain(m.Name))
	}
	if m.Namespace != "" {
		v.check(joinField(path, "namespace"), checkDNS1123Label(m.Namespace))
	}
	for _, k := range sortedKeys(m.Labels) {
		kpath := joinKey(joinField(path, "labels"), k)
		v.check(kpath, checkQualifiedName(k))
		v.check(kpath, checkLabelValue(m.Labels[k]))
	}
	total := 0
	for _, k := range sortedKeys(m.Annotations) {
		v.check(joinKey(joinField(path, "annotations"), k), checkQualifiedName(k))
		total += len(k) + len(m.Annotations[k])
	}
	if total > maxAnnotationsLen {
		v.errf(joinField(path, "annotations"), "annotations take %d bytes; the limit is %d", total, maxAnnotationsLen)
	}
	if m.UID != "" {
		v.add(Warning, joinField(path, "uid"), "uid is ignored: %s; berth gives each pod a uid of its own", serverOwned)
	}
}

func (v *validator) podSpec(s *PodSpec, path string) {
	vols := v.volumes(s, joinField(path, "volumes"))
	v.podOS(s.OS, joinField(path, "os"))
	if len(s.Containers) == 0 {
		v.errf(joinField(path, "containers"), "a pod needs at least one container")
	}
	names := map[string]string{}            // container name -> path of its first use
	ports := map[string]map[string]string{} // see hostPortConflict
	for i := range s.InitContainers {
		c, cpath := &s.InitContainers[i], joinIndex(joinField(path, "initContainers"), i)
		v.container(s, c, cpath, vols, names, ports)
		if c.RestartPolicy != nil {
			v.oneOf(joinField(cpath, "restartPolicy"), *c.RestartPolicy, "Always")
		}
		if IsSidecar(c) {
			v.probes(c, cpath)
			v.lifecycle(s, c, cpath)
		} else {
			v.noProbes(c, cpath)
			v.noLifecycle(c, cpath)
		}
	}
	for i := range s.Containers {
		c, cpath := &s.Containers[i], joinIndex(joinField(path, "containers"), i)
		v.container(s, c, cpath, vols, names, ports)
		v.probes(c, cpath)
		v.lifecycle(s, c, cpath)
		if c.RestartPolicy != nil {
			v.errf(joinField(cpath, "restartPolicy"), "may be set only on an init container (Always, for a sidecar)")
		}
	}
	v.resizePolicies(s, path)
	v.oneOf(joinField(path, "restartPolicy"), s.RestartPolicy, "", "Always", "OnFailure", "Never")
	if s.TerminationGracePeriodSeconds != nil && *s.TerminationGracePeriodSeconds < 0 {
		v.errf(joinField(path, "terminationGracePeriodSeconds"), "must not be negative")
	}
	if s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds <= 0 {
		v.errf(joinField(path, "activeDeadlineSeconds"), "must be greater than 0")
	}
	v.dns(s, path)
	if s.Hostname != "" {
		v.check(joinField(path, "hostname"), checkDNS1123Label(s.Hostname))
	}
	if s.Subdomain != "" {
		v.check(joinField(path, "subdomain"), checkDNS1123Label(s.Subdomain))
	}
	for i, a := range s.HostAliases {
		apath := joinIndex(joinField(path, "hostAliases"), i)
		v.ip(joinField(apath, "ip"), a.IP, true)
		for j, h := range a.Hostnames {
			v.check(joinIndex(joinField(apath, "hostnames"), j), checkDNS1123Subdomain(h))
		}
	}
	for i, r := range s.ImagePullSecrets {
		if r.Name == "" {
			v.errf(joinField(joinIndex(joinField(path, "imagePullSecrets"), i), "name"), "name the Secret that holds the registry credentials")
		}
	}
	if s.ShareProcessNamespace != nil && *s.ShareProcessNamespace && s.HostPID {
		v.errf(joinField(path, "shareProcessNamespace"), "shareProcessNamespace and hostPID cannot both be true")
	}
	if s.SecurityContext != nil {
		v.podSecurity(s.SecurityContext, joinField(path, "securityContext"), s.HostNetwork, s.HostIPC)
	}
}

// oneOf checks that val is one of allowed.
func (v *validator) oneOf(path, val string, allowed ...string) {
	if !slices.Contains(allowed, val) {
		v.errf(path, "%q is not valid: use one of %s", clip(val), strings.Join(quoteAll(allowed), ", "))
	}
}

func quoteAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, fmt.Sprintf("%q", s))
		}
	}
	return out
}

func (v *validator) dns(s *PodSpec, path string) {
	v.oneOf(joinField(path, "dnsPolicy"), s.DNSPolicy, "", "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
	c := s.DNSConfig
	if s.DNSPolicy == "None" && (c == nil || len(c.Nameservers) == 0) {
		v.errf(joinField(path, "dnsConfig"), "dnsPolicy None needs dnsConfig with at least one nameserver")
	}
	if c == nil {
		return
	}
	cpath := joinField(path, "dnsConfig")
	if len(c.Nameservers) > maxNameservers {
		v.errf(joinField(cpath, "nameservers"), "at most %d nameservers are allowed, got %d", maxNameservers, len(c.Nameservers))
	}
	for i, ns := range c.Nameservers {
		v.ip(joinIndex(joinField(cpath, "nameservers"), i), ns, true)
	}
	if len(c.Searches) > maxSearches {
		v.errf(joinField(cpath, "searches"), "at most %d search domains are allowed, got %d", maxSearches, len(c.Searches))
	}
	total := 0
	for i, d := range c.Searches {
		total += len(d) + 1
		v.check(joinIndex(joinField(cpath, "searches"), i), checkDNS1123Subdomain(strings.TrimSuffix(d, ".")))
	}
	if total > maxSearchesLen {
		v.errf(joinField(cpath, "searches"), "search domains take %d characters; the limit is %d", total, maxSearchesLen)
	}
	for i, o := range c.Options {
		if o.Name == "" {
			v.errf(joinField(joinIndex(joinField(cpath, "options"), i), "name"), "name is required")
		}
	}
}

// ip checks an IP address; an empty one is an error only when required.
func (v *validator) ip(path, s string, required bool) {
	if s == "" && !required {
		return
	}
	if _, err := netip.ParseAddr(s); err != nil {
		v.errf(path, "%q is not a valid IP address", clip(s))
	}
}

func (v *validator) volumes(s *PodSpec, path string) map[string]bool {
	vols := s.Volumes
	names := map[string]bool{}
	for i := range vols {
		vol := &vols[i]
		vpath := joinIndex(path, i)
		if vol.Name == "" {
			v.errf(joinField(vpath, "name"), "name is required")
		} else if names[vol.Name] {
			v.errf(joinField(vpath, "name"), "volume name %q is used more than once", vol.Name)
		} else {
			v.check(joinField(vpath, "name"), checkDNS1123Label(vol.Name))
		}
		names[vol.Name] = true
		v.volumeSource(s, vol, vpath)
	}
	return names
}

func (v *validator) volumeSource(s *PodSpec, vol *Volume, path string) {
	var set []string
	if vol.EmptyDir != nil {
		set = append(set, "emptyDir")
		v.emptyDir(vol.EmptyDir, joinField(path, "emptyDir"))
	}
	if vol.HostPath != nil {
		set = append(set, "hostPath")
		v.hostPath(vol.HostPath, joinField(path, "hostPath"))
	}
	if vol.ConfigMap != nil {
		set = append(set, "configMap")
		v.projection(vol.ConfigMap.Name, vol.ConfigMap.Items, vol.ConfigMap.DefaultMode, joinField(path, "configMap"), "name")
	}
	if vol.Secret != nil {
		set = append(set, "secret")
		v.projection(vol.Secret.SecretName, vol.Secret.Items, vol.Secret.DefaultMode, joinField(path, "secret"), "secretName")
	}
	if vol.PersistentVolumeClaim != nil {
		set = append(set, "persistentVolumeClaim")
		v.objectName(joinField(joinField(path, "persistentVolumeClaim"), "claimName"), vol.PersistentVolumeClaim.ClaimName)
	}
	if vol.DownwardAPI != nil {
		set = append(set, "downwardAPI")
		dpath := joinField(path, "downwardAPI")
		v.mode(joinField(dpath, "defaultMode"), vol.DownwardAPI.DefaultMode)
		v.downwardItems(s, vol.DownwardAPI.Items, dpath, map[string]bool{})
	}
	if vol.Projected != nil {
		set = append(set, "projected")
		v.projected(s, vol.Projected, joinField(path, "projected"))
	}
	if vol.Image != nil {
		set = append(set, "image")
		v.imageVolume(vol.Image, joinField(path, "image"))
	}
	switch len(set) {
	case 0:
		v.errf(path, "volume %q has no source berth can provide: set exactly one of emptyDir, hostPath, configMap, secret, persistentVolumeClaim, downwardAPI, projected or image", vol.Name)
	case 1:
	default:
		v.errf(joinField(path, set[1]), "volume %q has more than one source (%s): keep exactly one", vol.Name, strings.Join(set, ", "))
	}
}

// imageVolume checks an image volume as Kubernetes does: a pod's image
// volume names its image.
func (v *validator) imageVolume(img *ImageVolumeSource, path string) {
	if img.Reference == "" {
		v.errf(joinField(path, "reference"), "reference is required")
	} else if strings.IndexFunc(img.Reference, unicode.IsSpace) >= 0 {
		v.errf(joinField(path, "reference"), "reference %q must not contain whitespace", clip(img.Reference))
	}
	v.oneOf(joinField(path, "pullPolicy"), img.PullPolicy, "", "Always", "IfNotPresent", "Never")
}

func (v *validator) emptyDir(e *EmptyDirVolumeSource, path string) {
	if e.Medium != "" && e.Medium != "Memory" && !strings.HasPrefix(e.Medium, "HugePages") {
		v.errf(joinField(path, "medium"), "medium %q is not valid: use \"\" (disk) or \"Memory\"", clip(e.Medium))
	}
	switch {
	case e.SizeLimit == nil:
	case e.SizeLimit.Sign() < 0:
		v.errf(joinField(path, "sizeLimit"), "must not be negative")
	case e.Medium == "":
		// The kubelet enforces it by evicting the pod once the directory
		// grows past it; berth neither measures nor evicts yet.
		v.add(Unsupported, joinField(path, "sizeLimit"), "sizeLimit on a disk emptyDir is not supported yet by berth: "+
			"use medium \"Memory\" for a tmpfs of that size (it counts against the container's memory limit), or remove sizeLimit")
	}
}

var hostPathTypes = []string{"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"}

func (v *validator) hostPath(h *HostPathVolumeSource, path string) {
	switch {
	case h.Path == "":
		v.errf(joinField(path, "path"), "path is required")
	case !strings.HasPrefix(h.Path, "/"):
		v.errf(joinField(path, "path"), "path %q must be absolute", clip(h.Path))
	case hasDotDot(h.Path):
		v.errf(joinField(path, "path"), "path %q must not contain '..'", clip(h.Path))
	}
	v.oneOf(joinField(path, "type"), h.Type, hostPathTypes...)
}

// projection checks a configMap or secret volume.
func (v *validator) projection(name string, items []KeyToPath, defaultMode *int32, path, nameField string) {
	if name == "" {
		v.errf(joinField(path, nameField), "%s is required", nameField)
	} else {
		v.check(joinField(path, nameField), checkDNS1123Subdomain(name))
	}
	v.mode(joinField(path, "defaultMode"), defaultMode)
	for i, it := range items {
		ipath := joinIndex(joinField(path, "items"), i)
		if it.Key == "" {
			v.errf(joinField(ipath, "key"), "key is required")
		} else {
			v.check(joinField(ipath, "key"), checkConfigKey(it.Key))
		}
		v.relativePath(joinField(ipath, "path"), it.Path, true)
		v.mode(joinField(ipath, "mode"), it.Mode)
	}
}

func (v *validator) mode(path string, m *int32) {
	if m != nil && (*m < 0 || *m > maxFileMode) {
		v.errf(path, "mode %d is not valid: use 0 to 0777 (octal) or 0 to 511 (decimal)", *m)
	}
}

// relativePath checks a path that is joined below a directory.
func (v *validator) relativePath(path, p string, required bool) {
	switch {
	case p == "":
		if required {
			v.errf(path, "path is required")
		}
	case strings.HasPrefix(p, "/"):
		v.errf(path, "%q must be a relative path", clip(p))
	case hasDotDot(p):
		v.errf(path, "%q must not contain '..'", clip(p))
	}
}

func hasDotDot(p string) bool {
	return slices.Contains(strings.Split(p, "/"), "..")
}

func (v *validator) strings(val reflect.Value, path string) {
	walkFields(val, path, func(_ reflect.Type, _ string, f reflect.Value, fpath string) {
		switch {
		case f.Kind() == reflect.String:
			v.stringValue(fpath, f.String())
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			for i := range f.Len() {
				v.stringValue(joinIndex(fpath, i), f.Index(i).String())
			}
		}
	})
}

// stringValue caps a string's size and rejects NUL, which would silently
// cut a path or argument short in the kernel.
func (v *validator) stringValue(path, s string) {
	if len(s) > maxStringLen {
		v.errf(path, "value is %d bytes long; the limit is %d", len(s), maxStringLen)
	}
	if strings.IndexByte(s, 0) >= 0 {
		v.errf(path, "value contains a NUL character")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
