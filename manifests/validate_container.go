package manifests

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"unicode"
)

// container checks one container or init container. names and ports are
// shared across the pod to find duplicates.
func (v *validator) container(s *PodSpec, c *Container, path string, vols map[string]bool, names map[string]string, ports map[string]map[string]string) {
	npath := joinField(path, "name")
	switch {
	case c.Name == "":
		v.errf(npath, "name is required")
	case names[c.Name] != "":
		v.errf(npath, "container name %q is already used by %s", c.Name, names[c.Name])
	default:
		v.check(npath, checkDNS1123Label(c.Name))
		names[c.Name] = path
	}
	if c.Image == "" {
		v.errf(joinField(path, "image"), "image is required")
	} else if strings.IndexFunc(c.Image, unicode.IsSpace) >= 0 {
		v.errf(joinField(path, "image"), "image %q must not contain whitespace", clip(c.Image))
	}
	v.oneOf(joinField(path, "imagePullPolicy"), c.ImagePullPolicy, "", "Always", "IfNotPresent", "Never")
	v.oneOf(joinField(path, "terminationMessagePolicy"), c.TerminationMessagePolicy, "", "File", "FallbackToLogsOnError")
	if p := c.TerminationMessagePath; p != "" {
		tpath := joinField(path, "terminationMessagePath")
		switch {
		case !strings.HasPrefix(p, "/"):
			v.errf(tpath, "terminationMessagePath %q must be absolute", clip(p))
		case hasDotDot(p) || cleanMountPath(p) == "/":
			v.errf(tpath, "terminationMessagePath %q must name a file below / without '..'", clip(p))
		}
	}
	v.ports(s, c, path, ports)
	v.env(s, c, path)
	v.resources(&c.Resources, joinField(path, "resources"))
	v.mounts(c, path, vols)
	if c.SecurityContext != nil {
		v.containerSecurity(s.SecurityContext, c.SecurityContext, joinField(path, "securityContext"))
	}
}

func (v *validator) ports(s *PodSpec, c *Container, path string, hostPorts map[string]map[string]string) {
	names := map[string]bool{}
	for i, p := range c.Ports {
		ppath := joinIndex(joinField(path, "ports"), i)
		if p.Name != "" {
			if names[p.Name] {
				v.errf(joinField(ppath, "name"), "port name %q is used more than once in this container", p.Name)
			}
			names[p.Name] = true
			v.check(joinField(ppath, "name"), checkPortName(p.Name))
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			v.errf(joinField(ppath, "containerPort"), "port %d is out of range: use 1 to 65535", p.ContainerPort)
		}
		if p.HostPort < 0 || p.HostPort > 65535 {
			v.errf(joinField(ppath, "hostPort"), "port %d is out of range: use 1 to 65535, or 0 for none", p.HostPort)
		}
		if s.HostNetwork && p.HostPort != 0 && p.HostPort != p.ContainerPort {
			v.errf(joinField(ppath, "hostPort"), "with hostNetwork, hostPort (%d) must equal containerPort (%d)", p.HostPort, p.ContainerPort)
		}
		v.oneOf(joinField(ppath, "protocol"), p.Protocol, "", "TCP", "UDP", "SCTP")
		v.ip(joinField(ppath, "hostIP"), p.HostIP, false)
		if p.HostPort > 0 {
			v.hostPortConflict(p, ppath, hostPorts)
		}
	}
}

// hostPortConflict reports a hostPort/protocol already claimed in the pod
// on an overlapping host IP (a wildcard address overlaps every address).
// seen maps "port/protocol" to host IP ("" for any) to the claiming path.
func (v *validator) hostPortConflict(p ContainerPort, path string, seen map[string]map[string]string) {
	proto := p.Protocol
	if proto == "" {
		proto = "TCP"
	}
	ip := p.HostIP
	if a, err := netip.ParseAddr(ip); err == nil && a.IsUnspecified() {
		ip = ""
	}
	key := fmt.Sprintf("%d/%s", p.HostPort, proto)
	claims := seen[key]
	prev := claims[ip]
	if prev == "" {
		prev = claims[""]
	}
	if prev == "" && ip == "" {
		for _, other := range claims { // report the first in path order
			if prev == "" || other < prev {
				prev = other
			}
		}
	}
	if prev != "" {
		v.errf(joinField(path, "hostPort"), "host port %s is already used by %s", key, prev)
		return
	}
	if claims == nil {
		claims = map[string]string{}
		seen[key] = claims
	}
	claims[ip] = path
}

// fieldPaths are the pod fields an env var may reference (downward API).
var fieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName",
	"status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs",
}

func (v *validator) env(s *PodSpec, c *Container, path string) {
	for i, e := range c.Env {
		epath := joinIndex(joinField(path, "env"), i)
		v.check(joinField(epath, "name"), checkEnvName(e.Name))
		if e.ValueFrom == nil {
			continue
		}
		if e.Value != "" {
			v.errf(joinField(epath, "valueFrom"), "set either value or valueFrom, not both")
		}
		v.envSource(s, e.ValueFrom, joinField(epath, "valueFrom"))
	}
	for i, e := range c.EnvFrom {
		epath := joinIndex(joinField(path, "envFrom"), i)
		if e.Prefix != "" {
			v.check(joinField(epath, "prefix"), checkEnvName(e.Prefix))
		}
		switch {
		case (e.ConfigMapRef == nil) == (e.SecretRef == nil):
			v.errf(epath, "set exactly one of configMapRef or secretRef")
		case e.ConfigMapRef != nil:
			v.objectName(joinField(joinField(epath, "configMapRef"), "name"), e.ConfigMapRef.Name)
		default:
			v.objectName(joinField(joinField(epath, "secretRef"), "name"), e.SecretRef.Name)
		}
	}
}

func (v *validator) envSource(spec *PodSpec, s *EnvVarSource, path string) {
	n := 0
	if s.FieldRef != nil {
		n++
		v.fieldRef(s.FieldRef, joinField(path, "fieldRef"))
	}
	if s.ResourceFieldRef != nil {
		n++
		v.resourceFieldRef(spec, s.ResourceFieldRef, joinField(path, "resourceFieldRef"), false)
	}
	for _, ref := range []struct {
		name string
		sel  *KeySelector
	}{{"configMapKeyRef", s.ConfigMapKeyRef}, {"secretKeyRef", s.SecretKeyRef}} {
		if ref.sel == nil {
			continue
		}
		n++
		rpath := joinField(path, ref.name)
		v.objectName(joinField(rpath, "name"), ref.sel.Name)
		if ref.sel.Key == "" {
			v.errf(joinField(rpath, "key"), "key is required")
		} else {
			v.check(joinField(rpath, "key"), checkConfigKey(ref.sel.Key))
		}
	}
	if n != 1 {
		v.errf(path, "set exactly one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef")
	}
}

func (v *validator) fieldRef(f *ObjectFieldSelector, path string) {
	if f.APIVersion != "" && f.APIVersion != "v1" {
		v.errf(joinField(path, "apiVersion"), "apiVersion %q is not valid: use \"v1\"", clip(f.APIVersion))
	}
	fp := f.FieldPath
	if strings.HasPrefix(fp, "metadata.labels['") || strings.HasPrefix(fp, "metadata.annotations['") {
		_, rest, _ := strings.Cut(fp, "['")
		key, ok := strings.CutSuffix(rest, "']")
		if ok {
			v.check(joinField(path, "fieldPath"), checkQualifiedName(key))
			return
		}
	}
	if !slices.Contains(fieldPaths, fp) {
		v.errf(joinField(path, "fieldPath"), "fieldPath %q is not supported: use one of %s, metadata.labels['KEY'] or metadata.annotations['KEY']", clip(fp), strings.Join(fieldPaths, ", "))
	}
}

// objectName checks the name of a referenced ConfigMap or Secret.
func (v *validator) objectName(path, name string) {
	if name == "" {
		v.errf(path, "name is required")
		return
	}
	v.check(path, checkDNS1123Subdomain(name))
}

func (v *validator) resources(r *ResourceRequirements, path string) {
	for _, part := range []struct {
		name string
		m    map[string]Quantity
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for _, k := range sortedKeys(part.m) {
			kpath := joinKey(joinField(path, part.name), k)
			v.check(kpath, checkQualifiedName(k))
			if part.m[k].Sign() < 0 {
				v.errf(kpath, "%s %s must not be negative", k, part.m[k])
			}
		}
	}
	if _, ok := r.Requests[ephemeralStorage]; ok {
		v.add(Warning, joinKey(joinField(path, "requests"), ephemeralStorage), "%s", ephemeralStorageRequest)
	}
	for _, k := range sortedKeys(r.Requests) {
		limit, ok := r.Limits[k]
		if ok && r.Requests[k].Cmp(limit) > 0 {
			v.errf(joinKey(joinField(path, "requests"), k), "request %s for %s is larger than its limit %s", r.Requests[k], k, limit)
		}
	}
}

// pullAlwaysWarnings warns about an imagePullPolicy Always written in the
// manifest: an image imported from an archive or a directory has no
// registry to pull it from again, and is used as imported. (The Always
// that defaulting gives a :latest or untagged image is not warned about.)
func pullAlwaysWarnings(s *PodSpec) []Problem {
	v := &validator{}
	for _, list := range []struct {
		name string
		ctrs []Container
	}{{"initContainers", s.InitContainers}, {"containers", s.Containers}} {
		for i, c := range list.ctrs {
			if c.ImagePullPolicy == "Always" {
				v.add(Warning, joinField(joinIndex(joinField("spec", list.name), i), "imagePullPolicy"),
					"imagePullPolicy Always is treated as IfNotPresent for an image imported with `berth image import`; one pulled from a registry is pulled again at each pod start")
			}
		}
	}
	return v.probs
}

const (
	ephemeralStorage = "ephemeral-storage"
	// A request reserves nothing on the node: the scheduler places pods by
	// it and the kubelet ranks pods by usage above it when it evicts.
	ephemeralStorageRequest = "an ephemeral-storage request is ignored: on a cluster it only places the pod on a node " +
		"and ranks it for eviction; berth runs every pod on this node and evicts none (limits are not supported yet)"
)

func (v *validator) mounts(c *Container, path string, vols map[string]bool) {
	targets := map[string]bool{}
	for i, m := range c.VolumeMounts {
		mpath := joinIndex(joinField(path, "volumeMounts"), i)
		switch {
		case m.Name == "":
			v.errf(joinField(mpath, "name"), "name is required")
		case !vols[m.Name]:
			v.errf(joinField(mpath, "name"), "volume %q is not declared in spec.volumes", m.Name)
		}
		tpath := joinField(mpath, "mountPath")
		switch {
		case m.MountPath == "":
			v.errf(tpath, "mountPath is required")
		case !strings.HasPrefix(m.MountPath, "/"):
			v.errf(tpath, "mountPath %q must be absolute", clip(m.MountPath))
		case hasDotDot(m.MountPath):
			v.errf(tpath, "mountPath %q must not contain '..'", clip(m.MountPath))
		case targets[cleanMountPath(m.MountPath)]:
			v.errf(tpath, "mountPath %q is used by more than one volumeMount in this container", clip(m.MountPath))
		default:
			if why := forbiddenMountPath(m.MountPath); why != "" {
				v.errf(tpath, "mountPath %q %s", clip(m.MountPath), why)
			}
		}
		targets[cleanMountPath(m.MountPath)] = true
		v.relativePath(joinField(mpath, "subPath"), m.SubPath, false)
		v.relativePath(joinField(mpath, "subPathExpr"), m.SubPathExpr, false)
		if m.SubPath != "" && m.SubPathExpr != "" {
			v.errf(joinField(mpath, "subPathExpr"), "set either subPath or subPathExpr, not both")
		}
		v.oneOf(joinField(mpath, "mountPropagation"), m.MountPropagation, "", "None", "HostToContainer", "Bidirectional")
		if m.MountPropagation == "Bidirectional" && (c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged) {
			v.errf(joinField(mpath, "mountPropagation"), "Bidirectional mount propagation is available only to privileged containers: set securityContext.privileged, or use HostToContainer")
		}
	}
}

// cleanMountPath makes "/data/", "//data" and "/data" the same target.
func cleanMountPath(p string) string { return path.Clean(p) }

// forbiddenMountPath says why a volume may not be mounted at the absolute
// path p, compared after cleaning ("//proc/" is "/proc"), or returns "".
// The rules are runc's: nothing on top of the rootfs, and nothing at or
// inside /proc, where a mount would replace what the kernel shows the
// container (masked and read-only paths included) and what berth reads
// there. /sys and /dev are left open, as runc leaves them: /dev/shm
// (emptyDir medium Memory), /dev/fuse, and the /dev, /sys or
// /sys/fs/cgroup hostPaths of node agents are everyday manifests.
// (runc also lets a few lxcfs files under /proc be bound; berth does not.)
func forbiddenMountPath(p string) string {
	switch c := cleanMountPath(p); {
	case c == "/":
		return "is the container's root: a volume cannot replace the image; mount it on a directory"
	case c == "/proc" || strings.HasPrefix(c, "/proc/"):
		return "is inside /proc: a mount there would replace what the kernel shows the container, masked paths included; mount the volume elsewhere"
	}
	return ""
}
