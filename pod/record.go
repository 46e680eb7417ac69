package pod

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-project/berth/downward"
	"github.com/berth-project/berth/images"
	"github.com/berth-project/berth/internal/atomicfile"
	"github.com/berth-project/berth/manifests"
)

// recordVersion is bumped when the record's meaning changes; fields are
// only added.
const recordVersion = 1

// record is what the daemon keeps on disk per pod (<state>/pods/<id>/pod.json),
// written atomically. It is never trusted alone: on start the daemon checks
// the infra it names is alive (PID plus start time) and answers on its socket.
type record struct {
	Version int            `json:"version"`
	UID     string         `json:"uid"`
	File    string         `json:"file"`
	Pod     *manifests.Pod `json:"pod"`
	Created time.Time      `json:"created"`
	// InfraPID and InfraStart (clock ticks since boot, /proc/PID/stat field
	// 22) identify the infra process; a bare PID could be reused.
	InfraPID   int    `json:"infraPID,omitempty"`
	InfraStart uint64 `json:"infraStart,omitempty"`
	IP         string `json:"ip,omitempty"`
	// HostIP is the host's address on the pod network when the pod was
	// created (the downward API's status.hostIP).
	HostIP string `json:"hostIP,omitempty"`
	// ImageIDs are the images the containers run, by container name.
	ImageIDs map[string]string `json:"imageIDs,omitempty"`
	// VolumeImageIDs are the images of the image volumes, by volume name.
	VolumeImageIDs map[string]string `json:"volumeImageIDs,omitempty"`
	// Rollout is the gate's state of the pod's spec (rollout.go).
	Rollout rollout `json:"rollout,omitzero"`
}

const recordFile = "pod.json"

func writeRecord(dir string, r *record) error {
	r.Version = recordVersion
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode pod record: %w", err)
	}
	return atomicfile.Replace(filepath.Join(dir, recordFile), b, 0o600)
}

// env computes container c's environment for the pod of r, which runs img
// on node (whose allocatable resources are alloc), from the ConfigMaps and Secrets in objs. A pod on the host's
// network has the host's address, as the kubelet says.
func (r *record) env(c *manifests.Container, img images.Image, objs Objects, node string, alloc downward.Node) ([]string, error) {
	env, _, err := r.envVars(c, img, objs, node, alloc)
	return env, err
}

// envVars is env with the variables the container defines, for
// ExpandSubPaths.
func (r *record) envVars(c *manifests.Container, img images.Image, objs Objects, node string, alloc downward.Node) ([]string, map[string]string, error) {
	podIP := r.IP
	if r.Pod.Spec.HostNetwork {
		podIP = r.HostIP
	}
	return buildEnv(c, EnvInput{Pod: r.Pod, UID: r.UID, PodIP: podIP, HostIP: r.HostIP, NodeName: node, Node: alloc, ImageEnv: img.Config.Env, Objects: objs})
}

func readRecord(dir string) (*record, error) {
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, recordFile), err)
	}
	if r.Pod == nil {
		return nil, fmt.Errorf("%s holds no pod", filepath.Join(dir, recordFile))
	}
	return &r, nil
}

// storedRecords reads the record of every pod under stateDir, for readers
// without the daemon. A pod directory without a record (made before it,
// or emptied after it) is skipped.
func storedRecords(stateDir string) ([]*record, error) {
	names, err := podDirs(stateDir)
	if err != nil {
		return nil, fmt.Errorf("list pod records: %w", err)
	}
	var recs []*record
	for _, name := range names {
		r, err := readRecord(filepath.Join(stateDir, "pods", name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}
