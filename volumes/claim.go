package volumes

import (
	"fmt"
	"path/filepath"

	"github.com/berth-project/berth/manifests"
)

// KindClaim is a persistentVolumeClaim volume in Prepared.Kind.
const KindClaim = "persistentVolumeClaim"

// ClaimsDir is where the claims' volumes live under the state directory.
func ClaimsDir(stateDir string) string { return filepath.Join(stateDir, "volumes") }

// ClaimKey names a claim: claims are namespaced, as in Kubernetes.
type ClaimKey struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (k ClaimKey) String() string { return k.Namespace + "/" + k.Name }

// ClaimUse is one persistentVolumeClaim volume of a pod.
type ClaimUse struct {
	Volume   string
	Claim    ClaimKey
	ReadOnly bool
}

// ClaimsOf lists the persistentVolumeClaim volumes of pod, in its order.
func ClaimsOf(pod *manifests.Pod) []ClaimUse {
	var out []ClaimUse
	for _, v := range pod.Spec.Volumes {
		if c := v.PersistentVolumeClaim; c != nil {
			out = append(out, ClaimUse{Volume: v.Name, Claim: ClaimKey{pod.Namespace, c.ClaimName}, ReadOnly: c.ReadOnly})
		}
	}
	return out
}

// checkClaimKey rejects a claim whose namespace or name is unsafe as a path
// component (manifests validates both as DNS names already).
func checkClaimKey(k ClaimKey) error {
	if err := checkName("namespace", k.Namespace); err != nil {
		return err
	}
	return checkName("claim", k.Name)
}

// claimOwnership is what fsGroup asks of a claim's volume: the kubelet
// applies it to a persistent volume as to an emptyDir (the walk, unless
// fsGroupChangePolicy OnRootMismatch finds the root right), group-writable
// unless the pod mounts the claim read-only.
func claimOwnership(pod *manifests.Pod, u ClaimUse) *ownership {
	return podOwnership(pod, u.ReadOnly)
}

// ClaimCreated is a claim's volume made on a pod's first use of it.
type ClaimCreated struct {
	Claim ClaimKey
	Path  string
	// Declared is false for a claim no PersistentVolumeClaim document
	// declares: it is made with the defaults (ReadWriteOnce, no size).
	Declared bool
}

// Message is the ProvisioningSucceeded event's text.
func (c ClaimCreated) Message() string {
	how := "declared"
	if !c.Declared {
		how = "not declared by any PersistentVolumeClaim document, made with the defaults (ReadWriteOnce, no size)"
	}
	return fmt.Sprintf("created local volume %s for claim %s (%s)", c.Path, c.Claim, how)
}
