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

// ClaimNotes is what preparing a pod's claims has to tell: the volumes it
// made, and the declared sizes no quota enforces.
type ClaimNotes struct {
	Created   []ClaimCreated
	Unlimited []ClaimSize
}

// ClaimSize is a claim's declared size, as written, that no quota
// enforces; Err is why, when the file system has project quotas on.
type ClaimSize struct {
	Claim ClaimKey
	Size  string
	Err   error
}

// Message is the ClaimSizeNotEnforced event's text.
func (c ClaimSize) Message() string {
	why := "the file system of berth's state directory has no project quotas on (ext4 or XFS mounted with prjquota)"
	if c.Err != nil {
		why = c.Err.Error()
	}
	return fmt.Sprintf("claim %s asks for storage %s, which is not enforced: %s", c.Claim, c.Size, why)
}

// claimSize is the storage a declared claim requests.
func claimSize(decl *manifests.PersistentVolumeClaim) (manifests.Quantity, bool) {
	if decl == nil {
		return manifests.Quantity{}, false
	}
	q, ok := decl.Spec.Resources.Requests["storage"]
	return q, ok
}

// Message is the ProvisioningSucceeded event's text.
func (c ClaimCreated) Message() string {
	how := "declared"
	if !c.Declared {
		how = "not declared by any PersistentVolumeClaim document, made with the defaults (ReadWriteOnce, no size)"
	}
	return fmt.Sprintf("created local volume %s for claim %s (%s)", c.Path, c.Claim, how)
}
