package probe

import (
	"fmt"

	"github.com/berth-project/berth/manifests"
)

// ResolvePort returns the port number a probe's port names: a number as it
// is (1 to 65535), a name as the containerPort of the container's port of
// that name, as the kubelet resolves it. A quoted number ("8080") is a
// name, as in Kubernetes.
func ResolvePort(port manifests.IntOrString, ports []manifests.ContainerPort) (int, error) {
	if port.Type == manifests.IntValue {
		if port.IntVal < 1 || port.IntVal > 65535 {
			return 0, fmt.Errorf("port %d is out of range 1-65535", port.IntVal)
		}
		return int(port.IntVal), nil
	}
	for _, p := range ports {
		if p.Name == port.StrVal {
			if p.ContainerPort < 1 || p.ContainerPort > 65535 {
				return 0, fmt.Errorf("port %q is %d, out of range 1-65535", port.StrVal, p.ContainerPort)
			}
			return int(p.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("the container has no port named %q", port.StrVal)
}
