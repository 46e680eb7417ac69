package manifests

// resizePolicies checks every container's resizePolicy as Kubernetes
// does: cpu or memory, each once, NotRequired or RestartContainer; an init
// container has none (it is never resized: a change to it replaces the
// pod).
func (v *validator) resizePolicies(s *PodSpec, path string) {
	for i := range s.InitContainers {
		if len(s.InitContainers[i].ResizePolicy) > 0 {
			v.errf(joinField(joinIndex(joinField(path, "initContainers"), i), "resizePolicy"),
				"must not be set for an init container: only the pod's containers are resized")
		}
	}
	for i := range s.Containers {
		seen := map[string]bool{}
		for j, p := range s.Containers[i].ResizePolicy {
			ppath := joinIndex(joinField(joinIndex(joinField(path, "containers"), i), "resizePolicy"), j)
			rpath := joinField(ppath, "resourceName")
			switch {
			case p.ResourceName == "":
				v.errf(rpath, "resourceName is required: cpu or memory")
			case p.ResourceName != "cpu" && p.ResourceName != "memory":
				v.errf(rpath, "resourceName %q is not one berth resizes: use cpu or memory", clip(p.ResourceName))
			case seen[p.ResourceName]:
				v.errf(rpath, "resourceName %q is given twice: keep only one", p.ResourceName)
			}
			seen[p.ResourceName] = true
			if p.RestartPolicy == "" {
				v.errf(joinField(ppath, "restartPolicy"), "restartPolicy is required: NotRequired or RestartContainer")
			} else {
				v.oneOf(joinField(ppath, "restartPolicy"), p.RestartPolicy, "NotRequired", "RestartContainer")
			}
		}
	}
}
