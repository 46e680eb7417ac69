package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/manifests"
)

// ErrClaimInUse is a claim's volume that a pod uses, which rm refuses.
var ErrClaimInUse = errors.New("in use")

// ClaimStore holds the claims' volumes: one directory per claim,
// <dir>/<namespace>/<claim>, that outlives the pods using it, as podman
// kube play maps a claim to a named volume and local-path-provisioner to a
// directory on the one node. The daemon makes them; `berth volume` lists
// and removes them without it. Both take the store's lock (an flock on
// <dir>/.lock): a removal checks the pods using the claim and removes its
// directory under it, and a pod's record exists before the daemon takes it
// to prepare the pod's claims, so a claim is never removed under a pod
// being created.
type ClaimStore struct {
	Dir string
}

// lockFile is the store's lock, beside the namespaces (not a valid
// namespace name, so never a claim's directory).
const lockFile = ".lock"

// lock creates the store's directory if needed and takes its lock; the
// returned function releases it.
func (s ClaimStore) lock() (*os.Root, func(), error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create volume store %s: %w", s.Dir, err)
	}
	root, err := os.OpenRoot(s.Dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open volume store %s: %w", s.Dir, err)
	}
	f, err := root.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		root.Close()
		return nil, nil, fmt.Errorf("open volume store lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		root.Close()
		return nil, nil, fmt.Errorf("lock volume store %s: %w", s.Dir, err)
	}
	return root, func() { f.Close(); root.Close() }, nil
}

// Prepare makes the volume of every claim pod uses ready (created on first
// use, its declared size enforced by a project quota where the file system
// has them on, with fsGroup applied) and returns them by volume name, with
// what the pod's events should say. decls are the claims the manifest
// directory declares in the pod's namespace, by name.
//
// Every path is opened below the store through an os.Root, so a symlink
// the container planted in its claim's directory is never followed.
func (s ClaimStore) Prepare(pod *manifests.Pod, decls map[string]*manifests.PersistentVolumeClaim) (Set, ClaimNotes, error) {
	var notes ClaimNotes
	uses := ClaimsOf(pod)
	if len(uses) == 0 {
		return Set{}, notes, nil
	}
	root, unlock, err := s.lock()
	if err != nil {
		return nil, notes, err
	}
	defer unlock()
	base, err := filepath.EvalSymlinks(s.Dir)
	if err != nil {
		return nil, notes, fmt.Errorf("resolve volume store %s: %w", s.Dir, err)
	}
	set := make(Set, len(uses))
	for _, u := range uses {
		p, err := s.prepareClaim(root, base, pod, u, decls[u.Claim.Name], &notes)
		if err != nil {
			return nil, notes, fmt.Errorf("pod %s/%s: volume %s: %w", pod.Namespace, pod.Name, u.Volume, err)
		}
		set[u.Volume] = p
	}
	return set, notes, nil
}

// prepareClaim makes one claim's volume ready, adding to notes.
func (s ClaimStore) prepareClaim(root *os.Root, base string, pod *manifests.Pod, u ClaimUse, decl *manifests.PersistentVolumeClaim, notes *ClaimNotes) (Prepared, error) {
	made, err := ensureClaimDir(root, u.Claim)
	if err != nil {
		return Prepared{}, err
	}
	path := filepath.Join(base, u.Claim.Namespace, u.Claim.Name)
	if made {
		notes.Created = append(notes.Created, ClaimCreated{Claim: u.Claim, Path: path, Declared: decl != nil})
	}
	if size, ok := claimSize(decl); ok {
		// A quota that cannot be set is warned about, never fatal: the
		// volume works as it would without quotas.
		enforced, err := limitClaim(root, u.Claim, size.Value())
		if !enforced {
			notes.Unlimited = append(notes.Unlimited, ClaimSize{Claim: u.Claim, Size: size.String(), Err: err})
		}
	}
	if own := claimOwnership(pod, u); own != nil {
		if err := own.apply(path); err != nil {
			return Prepared{}, err
		}
	}
	return Prepared{Name: u.Volume, Path: path, Kind: KindClaim, ReadOnly: u.ReadOnly}, nil
}

// ensureClaimDir makes the claim's directory when missing (0777, as a
// local-path volume and an emptyDir are, so that any container user can
// write) and reports whether it did. An existing one must be a directory,
// not a link.
func ensureClaimDir(root *os.Root, k ClaimKey) (bool, error) {
	if err := checkClaimKey(k); err != nil {
		return false, err
	}
	rel := filepath.Join(k.Namespace, k.Name)
	fi, err := root.Lstat(rel)
	switch {
	case err == nil && fi.IsDir():
		return false, nil
	case err == nil:
		return false, fmt.Errorf("claim %s: %s is not a directory: %w", k, rel, ErrInvalid)
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("claim %s: %w", k, err)
	}
	if err := root.MkdirAll(k.Namespace, 0o700); err != nil {
		return false, fmt.Errorf("claim %s: create namespace dir: %w", k, err)
	}
	if err := root.Mkdir(rel, 0o700); err != nil {
		return false, fmt.Errorf("claim %s: create volume dir: %w", k, err)
	}
	// Mkdir's mode is cut by the umask; the fd is the directory just made.
	if err := root.Chmod(rel, 0o777); err != nil {
		return false, fmt.Errorf("claim %s: chmod volume dir: %w", k, err)
	}
	return true, nil
}

// ClaimVolume is a claim's volume as `berth volume` shows it.
type ClaimVolume struct {
	Claim ClaimKey `json:"claim"`
	Path  string   `json:"path"`
	// Created is the directory's birth time, zero where the file system
	// does not keep one.
	Created time.Time `json:"created,omitzero"`
}

// List returns the volumes of namespace ns (every namespace when ns is
// empty), by namespace and name. It never follows a link.
func (s ClaimStore) List(ns string) ([]ClaimVolume, error) {
	nss := []string{ns}
	if ns == "" {
		ents, err := os.ReadDir(s.Dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list volume store %s: %w", s.Dir, err)
		}
		nss = nss[:0]
		for _, e := range ents {
			if e.IsDir() {
				nss = append(nss, e.Name())
			}
		}
	}
	var out []ClaimVolume
	for _, n := range nss {
		ents, err := os.ReadDir(filepath.Join(s.Dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list volumes of namespace %s: %w", n, err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			v, err := s.Inspect(ClaimKey{n, e.Name()})
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Claim.String() < out[j].Claim.String() })
	return out, nil
}

// Inspect returns claim k's volume, or an error wrapping ErrNotFound.
func (s ClaimStore) Inspect(k ClaimKey) (ClaimVolume, error) {
	if err := checkClaimKey(k); err != nil {
		return ClaimVolume{}, err
	}
	path := filepath.Join(s.Dir, k.Namespace, k.Name)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return ClaimVolume{}, fmt.Errorf("volume %s: %w", k, ErrNotFound)
	}
	if err != nil {
		return ClaimVolume{}, fmt.Errorf("volume %s: %w", k, err)
	}
	return ClaimVolume{Claim: k, Path: path, Created: birthTime(path)}, nil
}

// birthTime is when path was made (statx btime, not following a link), or
// the zero time.
func birthTime(path string) time.Time {
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &stx)
	if err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return time.Time{}
	}
	return time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec)).UTC()
}

// Remove deletes claim k's volume and its data, unless users, asked under
// the store's lock, names a pod using it (ErrClaimInUse). The removal goes
// through an os.Root on the namespace's directory: a link the container
// left in the volume is removed, never followed.
func (s ClaimStore) Remove(k ClaimKey, users func() ([]string, error)) error {
	if err := checkClaimKey(k); err != nil {
		return err
	}
	root, unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	fi, err := root.Lstat(filepath.Join(k.Namespace, k.Name))
	if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
		return fmt.Errorf("volume %s: %w", k, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("volume %s: %w", k, err)
	}
	pods, err := users()
	if err != nil {
		return fmt.Errorf("volume %s: find the pods using it: %w", k, err)
	}
	if len(pods) > 0 {
		return fmt.Errorf("volume %s is used by pod %v: delete the pods first: %w", k, pods, ErrClaimInUse)
	}
	nsRoot, err := root.OpenRoot(k.Namespace)
	if err != nil {
		return fmt.Errorf("volume %s: %w", k, err)
	}
	defer nsRoot.Close()
	if err := nsRoot.RemoveAll(k.Name); err != nil {
		return fmt.Errorf("remove volume %s: %w", k, err)
	}
	return nil
}
