package manifests

import (
	"slices"
	"strings"
)

// ResourceFieldResources are the resources a resourceFieldRef may name.
var ResourceFieldResources = []string{
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage",
}

// The divisors Kubernetes accepts: cpu in cores or millicores, memory and
// storage in bytes or a power of 1000 or 1024 of them.
var (
	cpuDivisors   = []string{"1m", "1"}
	bytesDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi"}
)

// volumeFieldPaths are the pod fields a downwardAPI volume may project
// besides metadata.labels['KEY'] and metadata.annotations['KEY'].
var volumeFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations"}

// podOS checks spec.os (windows is refused by the support table).
func (v *validator) podOS(os *PodOS, path string) {
	if os != nil {
		v.oneOf(joinField(path, "name"), os.Name, "linux", "windows")
	}
}

// resourceFieldRef checks a resourceFieldRef of env or of a volume file;
// a volume file must name its container.
func (v *validator) resourceFieldRef(s *PodSpec, r *ResourceFieldSelector, path string, needContainer bool) {
	switch {
	case r.ContainerName != "" && !hasContainer(s, r.ContainerName):
		v.errf(joinField(path, "containerName"), "container %q is not in this pod", clip(r.ContainerName))
	case r.ContainerName == "" && needContainer:
		v.errf(joinField(path, "containerName"), "containerName is required in a volume")
	}
	if !slices.Contains(ResourceFieldResources, r.Resource) {
		v.errf(joinField(path, "resource"), "resource %q is not supported: use one of %s", clip(r.Resource), strings.Join(ResourceFieldResources, ", "))
		return
	}
	if r.Divisor == nil {
		return
	}
	allowed := bytesDivisors
	if strings.HasSuffix(r.Resource, ".cpu") {
		allowed = cpuDivisors
	}
	if !slices.ContainsFunc(allowed, func(d string) bool { return MustParseQuantity(d).Cmp(*r.Divisor) == 0 }) {
		v.errf(joinField(path, "divisor"), "divisor %q is not valid for %s: use one of %s", r.Divisor.String(), r.Resource, strings.Join(allowed, ", "))
	}
}

// downwardItems checks the files of a downwardAPI volume or projection;
// paths collects the volume's file paths, which must be unique.
func (v *validator) downwardItems(s *PodSpec, items []DownwardAPIVolumeFile, path string, paths map[string]bool) {
	for i := range items {
		it := &items[i]
		ipath := joinIndex(joinField(path, "items"), i)
		v.projectedPath(joinField(ipath, "path"), it.Path, paths)
		v.mode(joinField(ipath, "mode"), it.Mode)
		switch {
		case (it.FieldRef == nil) == (it.ResourceFieldRef == nil):
			v.errf(ipath, "set exactly one of fieldRef or resourceFieldRef")
		case it.FieldRef != nil:
			fpath := joinField(ipath, "fieldRef")
			if it.FieldRef.APIVersion != "" && it.FieldRef.APIVersion != "v1" {
				v.errf(joinField(fpath, "apiVersion"), "apiVersion %q is not valid: use \"v1\"", clip(it.FieldRef.APIVersion))
			}
			fp := it.FieldRef.FieldPath
			if key, ok := fieldSubscript(fp); ok {
				v.check(joinField(fpath, "fieldPath"), checkQualifiedName(key))
			} else if !slices.Contains(volumeFieldPaths, fp) {
				v.errf(joinField(fpath, "fieldPath"), "fieldPath %q cannot be projected into a volume: use one of %s, metadata.labels['KEY'] or metadata.annotations['KEY']", clip(fp), strings.Join(volumeFieldPaths, ", "))
			}
		default:
			v.resourceFieldRef(s, it.ResourceFieldRef, joinField(ipath, "resourceFieldRef"), true)
		}
	}
}

// fieldSubscript returns KEY of metadata.labels['KEY'] or
// metadata.annotations['KEY'].
func fieldSubscript(fp string) (string, bool) {
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if rest, ok := strings.CutPrefix(fp, prefix); ok {
			return strings.CutSuffix(rest, "']")
		}
	}
	return "", false
}

// projectedPath checks one file path of a downwardAPI or projected volume.
func (v *validator) projectedPath(path, p string, paths map[string]bool) {
	v.relativePath(path, p, true)
	if strings.HasPrefix(p, "..") {
		v.errf(path, "%q must not start with '..'", clip(p))
	}
	v.uniquePath(path, p, paths)
}

// uniquePath refuses a file path another file of the volume has; paths
// collects the volume's file paths.
func (v *validator) uniquePath(path, p string, paths map[string]bool) {
	if paths[p] {
		v.errf(path, "%q is used by more than one file of this volume", clip(p))
	}
	paths[p] = true
}

// projected checks a projected volume: each source one of configMap,
// secret or downwardAPI, and no file path twice across them.
func (v *validator) projected(s *PodSpec, pv *ProjectedVolumeSource, path string) {
	v.mode(joinField(path, "defaultMode"), pv.DefaultMode)
	paths := map[string]bool{}
	for i := range pv.Sources {
		src := &pv.Sources[i]
		spath := joinIndex(joinField(path, "sources"), i)
		n := 0
		if c := src.ConfigMap; c != nil {
			n++
			v.projectionSource(c.Name, c.Items, joinField(spath, "configMap"), paths)
		}
		if c := src.Secret; c != nil {
			n++
			v.projectionSource(c.Name, c.Items, joinField(spath, "secret"), paths)
		}
		if src.DownwardAPI != nil {
			n++
			v.downwardItems(s, src.DownwardAPI.Items, joinField(spath, "downwardAPI"), paths)
		}
		if n != 1 {
			v.errf(spath, "set exactly one of configMap, secret or downwardAPI")
		}
	}
}

// projectionSource checks a configMap or secret source of a projected
// volume.
func (v *validator) projectionSource(name string, items []KeyToPath, path string, paths map[string]bool) {
	v.projection(name, items, nil, path, "name")
	for i, it := range items {
		v.uniquePath(joinField(joinIndex(joinField(path, "items"), i), "path"), it.Path, paths)
	}
}
