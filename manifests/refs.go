package manifests

import "slices"

// Reference is a ConfigMap or Secret a pod uses, for the caller to resolve
// against the documents it has and to report a missing one at Path.
type Reference struct {
	Kind     string // "ConfigMap" or "Secret"
	Name     string // in the pod's namespace
	Path     string // field path of the name in the pod
	Optional bool   // the pod may start without it
}

// References lists every ConfigMap and Secret reference of the pod (volumes,
// env and envFrom of all containers), in manifest order.
func References(p *Pod) []Reference {
	var refs []Reference
	add := func(kind, name, path string, optional *bool) {
		refs = append(refs, Reference{Kind: kind, Name: name, Path: path, Optional: optional != nil && *optional})
	}
	for i, v := range p.Spec.Volumes {
		vpath := joinIndex("spec.volumes", i)
		if v.ConfigMap != nil {
			add("ConfigMap", v.ConfigMap.Name, vpath+".configMap.name", v.ConfigMap.Optional)
		}
		if v.Secret != nil {
			add("Secret", v.Secret.SecretName, vpath+".secret.secretName", v.Secret.Optional)
		}
	}
	for _, group := range []struct {
		path string
		cs   []Container
	}{{"spec.initContainers", p.Spec.InitContainers}, {"spec.containers", p.Spec.Containers}} {
		for i, c := range group.cs {
			cpath := joinIndex(group.path, i)
			for j, e := range c.EnvFrom {
				epath := joinIndex(cpath+".envFrom", j)
				if e.ConfigMapRef != nil {
					add("ConfigMap", e.ConfigMapRef.Name, epath+".configMapRef.name", e.ConfigMapRef.Optional)
				}
				if e.SecretRef != nil {
					add("Secret", e.SecretRef.Name, epath+".secretRef.name", e.SecretRef.Optional)
				}
			}
			for j, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				epath := joinIndex(cpath+".env", j) + ".valueFrom"
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					add("ConfigMap", r.Name, epath+".configMapKeyRef.name", r.Optional)
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					add("Secret", r.Name, epath+".secretKeyRef.name", r.Optional)
				}
			}
		}
	}
	return refs
}

// ReferencedConfigMaps returns the sorted, distinct names of the ConfigMaps
// the pod needs (optional references excluded).
func ReferencedConfigMaps(p *Pod) []string { return requiredNames(p, "ConfigMap") }

// ReferencedSecrets returns the sorted, distinct names of the Secrets the
// pod needs (optional references excluded).
func ReferencedSecrets(p *Pod) []string { return requiredNames(p, "Secret") }

func requiredNames(p *Pod, kind string) []string {
	var names []string
	for _, r := range References(p) {
		if r.Kind == kind && !r.Optional && r.Name != "" {
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
