package manifests

import "strings"

// Default values, as the Kubernetes API server applies them.
const (
	DefaultNamespace                    = "default"
	DefaultTerminationGracePeriod       = 30
	DefaultTerminationMessagePath       = "/dev/termination-log"
	DefaultVolumeMode             int32 = 0o644
)

// SetDefaults fills in the fields Kubernetes defaults, so that a pod from a
// file means the same here as on a cluster. It is idempotent. The parser
// calls it on every pod before validation.
func SetDefaults(p *Pod) {
	if p.Namespace == "" {
		p.Namespace = DefaultNamespace
	}
	s := &p.Spec
	if s.RestartPolicy == "" {
		s.RestartPolicy = "Always"
	}
	if s.TerminationGracePeriodSeconds == nil {
		grace := int64(DefaultTerminationGracePeriod)
		s.TerminationGracePeriodSeconds = &grace
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = "ClusterFirst"
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i], s.HostNetwork)
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i], s.HostNetwork)
	}
	for i := range s.Volumes {
		defaultVolume(&s.Volumes[i])
	}
}

func defaultContainer(c *Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = "File"
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = "TCP"
		}
		// With the host's network the container port is the host port.
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if f := envFieldRef(&c.Env[i]); f != nil && f.APIVersion == "" {
			f.APIVersion = "v1"
		}
	}
}

func envFieldRef(e *EnvVar) *ObjectFieldSelector {
	if e.ValueFrom == nil {
		return nil
	}
	return e.ValueFrom.FieldRef
}

func defaultVolume(v *Volume) {
	if v.ConfigMap != nil && v.ConfigMap.DefaultMode == nil {
		mode := DefaultVolumeMode
		v.ConfigMap.DefaultMode = &mode
	}
	if v.Secret != nil && v.Secret.DefaultMode == nil {
		mode := DefaultVolumeMode
		v.Secret.DefaultMode = &mode
	}
	if v.Image != nil && v.Image.PullPolicy == "" {
		v.Image.PullPolicy = defaultPullPolicy(v.Image.Reference)
	}
	defaultDownward(v)
}

// defaultPullPolicy is Always for ":latest" or an untagged image and
// IfNotPresent otherwise (a digest pins the image).
func defaultPullPolicy(image string) string {
	ref, _, hasDigest := strings.Cut(image, "@")
	if hasDigest {
		return "IfNotPresent"
	}
	name := ref[strings.LastIndex(ref, "/")+1:] // a registry port is not a tag
	_, tag, hasTag := strings.Cut(name, ":")
	if !hasTag || tag == "latest" {
		return "Always"
	}
	return "IfNotPresent"
}

// defaultObjectMeta applies the namespace default to ConfigMaps and Secrets.
func defaultObjectMeta(m *ObjectMeta) {
	if m.Namespace == "" {
		m.Namespace = DefaultNamespace
	}
}

// defaultDownward gives downwardAPI and projected volumes the API
// server's defaults: mode 0644, and apiVersion v1 in every fieldRef.
func defaultDownward(v *Volume) {
	var items []DownwardAPIVolumeFile
	if d := v.DownwardAPI; d != nil {
		if d.DefaultMode == nil {
			mode := DefaultVolumeMode
			d.DefaultMode = &mode
		}
		items = d.Items
	}
	if pv := v.Projected; pv != nil {
		if pv.DefaultMode == nil {
			mode := DefaultVolumeMode
			pv.DefaultMode = &mode
		}
		for _, src := range pv.Sources {
			if src.DownwardAPI != nil {
				defaultFieldRefs(src.DownwardAPI.Items)
			}
		}
	}
	defaultFieldRefs(items)
}

func defaultFieldRefs(items []DownwardAPIVolumeFile) {
	for i := range items {
		if f := items[i].FieldRef; f != nil && f.APIVersion == "" {
			f.APIVersion = "v1"
		}
	}
}
