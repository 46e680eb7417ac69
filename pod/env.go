package pod

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/manifests"
)

// Objects are the ConfigMaps and Secrets a pod may reference, by name
// within the pod's namespace.
type Objects struct {
	ConfigMaps map[string]*manifests.ConfigMap
	Secrets    map[string]*manifests.Secret
	// Claims are the PersistentVolumeClaims declared, by name.
	Claims map[string]*manifests.PersistentVolumeClaim
}

// EnvInput is what environment resolution needs beyond the container.
type EnvInput struct {
	Pod    *manifests.Pod
	UID    string
	PodIP  string
	HostIP string
	// NodeName is spec.nodeName: the host's name.
	NodeName string
	// Node is the node's allocatable resources, for resourceFieldRef.
	Node     downward.Node
	ImageEnv []string
	Objects  Objects
}

// BuildEnv computes a container's environment the way kubelet and the
// runtime do together: the image's variables first, then envFrom, then env
// (later entries override earlier ones, keeping the first position), with
// $(VAR) references in env values expanded against what is defined so far.
func BuildEnv(c *manifests.Container, in EnvInput) ([]string, error) {
	env, _, err := buildEnv(c, in)
	return env, err
}

// buildEnv is BuildEnv that also returns the variables the container
// defines (envFrom and env, not the image's): what $(VAR) in env values
// and in subPathExpr may refer to.
func buildEnv(c *manifests.Container, in EnvInput) ([]string, map[string]string, error) {
	var order []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range in.ImageEnv {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			set(k, v)
		}
	}
	// Container-level values (envFrom, env) are what $(VAR) may refer to,
	// as in kubelet; image variables are not.
	defined := map[string]string{}
	for i, ef := range c.EnvFrom {
		kv, err := envFromSource(ef, in.Objects)
		if err != nil {
			return nil, nil, fmt.Errorf("envFrom[%d]: %w", i, err)
		}
		keys := make([]string, 0, len(kv))
		for k := range kv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := ef.Prefix + k
			if !validEnvName(name) {
				continue // kubelet skips invalid names from envFrom
			}
			set(name, kv[k])
			defined[name] = kv[k]
		}
	}
	for i, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			var err error
			if v, err = envValueFrom(c, e.ValueFrom, in); err != nil {
				return nil, nil, fmt.Errorf("env[%d] (%s): %w", i, e.Name, err)
			}
		} else {
			v = Expand(v, defined)
		}
		set(e.Name, v)
		defined[e.Name] = v
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, defined, nil
}

// ExpandSubPaths returns c with every volumeMount's subPathExpr expanded
// into its subPath against vars, the variables the container defines, as
// the kubelet expands it (only those variables; an undefined $(VAR) stays
// as written). The result is checked as any subPath is, and resolved
// inside the volume by the container init. c is returned as it is when no
// mount has a subPathExpr.
func ExpandSubPaths(c *manifests.Container, vars map[string]string) *manifests.Container {
	if !slices.ContainsFunc(c.VolumeMounts, func(m manifests.VolumeMount) bool { return m.SubPathExpr != "" }) {
		return c
	}
	out := *c
	out.VolumeMounts = slices.Clone(c.VolumeMounts)
	for i := range out.VolumeMounts {
		m := &out.VolumeMounts[i]
		if m.SubPathExpr != "" {
			m.SubPath, m.SubPathExpr = Expand(m.SubPathExpr, vars), ""
		}
	}
	return &out
}

func validEnvName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "=\x00")
}

func envFromSource(ef manifests.EnvFromSource, objs Objects) (map[string]string, error) {
	switch {
	case ef.ConfigMapRef != nil:
		cm, ok := objs.ConfigMaps[ef.ConfigMapRef.Name]
		if !ok {
			if isTrue(ef.ConfigMapRef.Optional) {
				return nil, nil
			}
			return nil, fmt.Errorf("configMap %q not found", ef.ConfigMapRef.Name)
		}
		return cm.Data, nil
	case ef.SecretRef != nil:
		s, ok := objs.Secrets[ef.SecretRef.Name]
		if !ok {
			if isTrue(ef.SecretRef.Optional) {
				return nil, nil
			}
			return nil, fmt.Errorf("secret %q not found", ef.SecretRef.Name)
		}
		m := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			m[k] = string(v)
		}
		return m, nil
	}
	return nil, nil
}

func envValueFrom(c *manifests.Container, src *manifests.EnvVarSource, in EnvInput) (string, error) {
	switch {
	case src.FieldRef != nil:
		return fieldRef(src.FieldRef.FieldPath, in)
	case src.ResourceFieldRef != nil:
		// A resourceFieldRef without containerName is the container's own.
		name := src.ResourceFieldRef.ContainerName
		if name == "" {
			name = c.Name
		}
		return downward.Resource(downward.Pod{Pod: in.Pod, UID: in.UID, Node: in.Node}, name, src.ResourceFieldRef)
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, ok := in.Objects.ConfigMaps[ref.Name]
		if !ok {
			if isTrue(ref.Optional) {
				return "", nil
			}
			return "", fmt.Errorf("configMap %q not found", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if b, okb := cm.BinaryData[ref.Key]; okb {
				return string(b), nil
			}
			if isTrue(ref.Optional) {
				return "", nil
			}
			return "", fmt.Errorf("key %q not found in configMap %q", ref.Key, ref.Name)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, ok := in.Objects.Secrets[ref.Name]
		if !ok {
			if isTrue(ref.Optional) {
				return "", nil
			}
			return "", fmt.Errorf("secret %q not found", ref.Name)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", nil
			}
			return "", fmt.Errorf("key %q not found in secret %q", ref.Key, ref.Name)
		}
		return string(v), nil
	}
	return "", fmt.Errorf("valueFrom has no source")
}

// fieldRef resolves the downward-API paths berth knows.
func fieldRef(path string, in EnvInput) (string, error) {
	p := in.Pod
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return in.UID, nil
	case "status.podIP":
		return in.PodIP, nil
	case "status.podIPs":
		return in.PodIP, nil
	case "status.hostIP", "status.hostIPs":
		return in.HostIP, nil
	case "spec.nodeName":
		return in.NodeName, nil
	case "spec.serviceAccountName":
		return "", nil
	}
	for prefix, m := range map[string]map[string]string{
		"metadata.labels": p.Labels, "metadata.annotations": p.Annotations,
	} {
		if rest, ok := strings.CutPrefix(path, prefix+"['"); ok {
			if key, ok := strings.CutSuffix(rest, "']"); ok {
				return m[key], nil
			}
		}
	}
	return "", fmt.Errorf("fieldRef %q is not supported", path)
}

// Expand replaces $(VAR) with the value of VAR when it is defined, leaves
// undefined references as they are, and turns $$ into $, exactly as
// Kubernetes expands command, args and env values.
func Expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func isTrue(b *bool) bool { return b != nil && *b }
