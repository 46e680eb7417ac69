package manifestdir

import (
	"fmt"

	"github.com/berth-project/berth/manifests"
)

// refChecker finds references from one pod to ConfigMaps and Secrets that
// no file in the directory declares (or keys they lack). Kubernetes would
// leave such a pod in CreateContainerConfigError; berth refuses it up
// front, naming the field, unless the reference is optional.
type refChecker struct {
	doc        *manifests.Document
	ns         string
	configMaps map[ObjectKey]*manifests.ConfigMap
	secrets    map[ObjectKey]*manifests.Secret
	problems   []manifests.Problem
}

// checkRefs returns a problem for every unresolved reference of doc's pod.
func checkRefs(doc *manifests.Document, cms map[ObjectKey]*manifests.ConfigMap, secrets map[ObjectKey]*manifests.Secret) []manifests.Problem {
	c := &refChecker{doc: doc, ns: podKey(doc.Pod).Namespace, configMaps: cms, secrets: secrets}
	spec := &doc.Pod.Spec
	for i, v := range spec.Volumes {
		path := fmt.Sprintf("spec.volumes[%d]", i)
		if s := v.ConfigMap; s != nil {
			c.configMap(path+".configMap", s.Name, itemKeys(path+".configMap", s.Items), s.Optional)
		}
		if s := v.Secret; s != nil {
			c.secret(path+".secret", "secretName", s.SecretName, itemKeys(path+".secret", s.Items), s.Optional)
		}
	}
	for i, r := range spec.ImagePullSecrets {
		c.pullSecret(fmt.Sprintf("spec.imagePullSecrets[%d].name", i), r.Name)
	}
	for i := range spec.InitContainers {
		c.container(fmt.Sprintf("spec.initContainers[%d]", i), &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		c.container(fmt.Sprintf("spec.containers[%d]", i), &spec.Containers[i])
	}
	return c.problems
}

func (c *refChecker) container(path string, ctr *manifests.Container) {
	for i, e := range ctr.EnvFrom {
		p := fmt.Sprintf("%s.envFrom[%d]", path, i)
		if r := e.ConfigMapRef; r != nil {
			c.configMap(p+".configMapRef", r.Name, nil, r.Optional)
		}
		if r := e.SecretRef; r != nil {
			c.secret(p+".secretRef", "name", r.Name, nil, r.Optional)
		}
	}
	for i, e := range ctr.Env {
		if e.ValueFrom == nil {
			continue
		}
		p := fmt.Sprintf("%s.env[%d].valueFrom", path, i)
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			c.configMap(p+".configMapKeyRef", r.Name, []keyRef{{p + ".configMapKeyRef.key", r.Key}}, r.Optional)
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			c.secret(p+".secretKeyRef", "name", r.Name, []keyRef{{p + ".secretKeyRef.key", r.Key}}, r.Optional)
		}
	}
}

// configMap checks a reference to ConfigMap name and, if it exists, keys.
func (c *refChecker) configMap(path, name string, keys []keyRef, optional *bool) {
	if isTrue(optional) {
		return
	}
	cm, ok := c.configMaps[ObjectKey{c.ns, name}]
	if !ok {
		c.add(path+".name", fmt.Sprintf("ConfigMap %q not found: no file in the manifest directory declares it in namespace %s (declare it or set optional: true)", name, c.ns))
		return
	}
	for _, k := range keys {
		_, inData := cm.Data[k.key]
		_, inBinary := cm.BinaryData[k.key]
		if !inData && !inBinary {
			c.add(k.path, fmt.Sprintf("key %q not found in ConfigMap %q", k.key, name))
		}
	}
}

// secret checks a reference to Secret name and, if it exists, keys.
// nameField is the field that holds the name ("secretName" in volumes).
func (c *refChecker) secret(path, nameField, name string, keys []keyRef, optional *bool) {
	if isTrue(optional) {
		return
	}
	s, ok := c.secrets[ObjectKey{c.ns, name}]
	if !ok {
		c.add(path+"."+nameField, fmt.Sprintf("Secret %q not found: no file in the manifest directory declares it in namespace %s (declare it or set optional: true)", name, c.ns))
		return
	}
	for _, k := range keys {
		_, inData := s.Data[k.key]
		_, inString := s.StringData[k.key]
		if !inData && !inString {
			c.add(k.path, fmt.Sprintf("key %q not found in Secret %q", k.key, name))
		}
	}
}

// pullSecret checks an imagePullSecrets entry. As the kubelet does, a
// missing one or one of another type is skipped (with a warning here)
// and the pull goes on without it.
func (c *refChecker) pullSecret(path, name string) {
	s, ok := c.secrets[ObjectKey{c.ns, name}]
	switch {
	case !ok:
		c.problems = append(c.problems, c.doc.ProblemAt(manifests.Warning, path,
			fmt.Sprintf("Secret %q not found: no file in the manifest directory declares it in namespace %s; images are pulled without it", name, c.ns)))
	case s.Type != "kubernetes.io/dockerconfigjson" && s.Type != "kubernetes.io/dockercfg":
		c.problems = append(c.problems, c.doc.ProblemAt(manifests.Warning, path,
			fmt.Sprintf("Secret %q has type %q: only kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg Secrets hold pull credentials; it is not used", name, s.Type)))
	}
}

func (c *refChecker) add(path, msg string) {
	c.problems = append(c.problems, c.doc.ProblemAt(manifests.Error, path, msg))
}

// keyRef is a key a reference needs, with the field path that names it.
type keyRef struct{ path, key string }

// itemKeys lists the keys a volume's items project.
func itemKeys(path string, items []manifests.KeyToPath) []keyRef {
	keys := make([]keyRef, len(items))
	for i, it := range items {
		keys[i] = keyRef{fmt.Sprintf("%s.items[%d].key", path, i), it.Key}
	}
	return keys
}

func isTrue(b *bool) bool { return b != nil && *b }
