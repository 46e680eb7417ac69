package volumes

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/berth-project/berth/manifests"
)

// defaultFileMode is the mode of projected files when neither the item nor
// the volume sets one (Kubernetes' default for configMap and secret).
const defaultFileMode fs.FileMode = 0o644

// file is one projected file.
type file struct {
	data []byte
	mode fs.FileMode
}

// payload is the content of a configMap or secret volume: relative
// slash-separated paths to files.
type payload map[string]file

// sortedPaths returns the payload's paths in lexical order.
func (p payload) sortedPaths() []string {
	paths := make([]string, 0, len(p))
	for k := range p {
		paths = append(paths, k)
	}
	sort.Strings(paths)
	return paths
}

// configMapPayload projects cm (nil when the pod's directory holds no such
// ConfigMap) as src asks. data and binaryData are merged.
func configMapPayload(src *manifests.ConfigMapVolumeSource, cm *manifests.ConfigMap) (payload, error) {
	var keys map[string][]byte
	if cm != nil {
		keys = make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
		for k, v := range cm.Data {
			keys[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			keys[k] = v
		}
	}
	ref := source{kind: "ConfigMap", name: src.Name, optional: isTrue(src.Optional), found: cm != nil}
	return project(ref, keys, src.Items, src.DefaultMode)
}

// secretPayload projects s (nil when missing) as src asks. stringData wins
// over data for the same key, as the API server merges them.
func secretPayload(src *manifests.SecretVolumeSource, s *manifests.Secret) (payload, error) {
	var keys map[string][]byte
	if s != nil {
		keys = make(map[string][]byte, len(s.Data)+len(s.StringData))
		for k, v := range s.Data {
			keys[k] = v
		}
		for k, v := range s.StringData {
			keys[k] = []byte(v)
		}
	}
	ref := source{kind: "Secret", name: src.SecretName, optional: isTrue(src.Optional), found: s != nil}
	return project(ref, keys, src.Items, src.DefaultMode)
}

// source names the document a volume projects, for errors.
type source struct {
	kind, name string
	optional   bool
	found      bool
}

// project builds the payload: every key as a file named after it, or only
// the keys items select, at the items' paths. Like kubelet, a missing
// document or selected key is an error unless the volume is optional, and
// then it is skipped.
func project(src source, keys map[string][]byte, items []manifests.KeyToPath, defaultMode *int32) (payload, error) {
	if !src.found {
		if src.optional {
			return payload{}, nil
		}
		return nil, fmt.Errorf("%s %q: %w", src.kind, src.name, ErrNotFound)
	}
	defMode, err := fileMode(defaultMode, defaultFileMode)
	if err != nil {
		return nil, fmt.Errorf("defaultMode: %w", err)
	}
	p := make(payload)
	if len(items) == 0 {
		for k, v := range keys {
			if strings.Contains(k, "/") {
				return nil, fmt.Errorf("%s %q: key %q cannot be a file name: %w", src.kind, src.name, k, ErrInvalid)
			}
			if err := checkItemPath(k); err != nil {
				return nil, fmt.Errorf("%s %q: key %q: %w", src.kind, src.name, k, err)
			}
			p[k] = file{data: v, mode: defMode}
		}
		return p, nil
	}
	for i, it := range items {
		v, ok := keys[it.Key]
		if !ok {
			if src.optional {
				continue
			}
			return nil, fmt.Errorf("items[%d]: key %q of %s %q: %w", i, it.Key, src.kind, src.name, ErrNotFound)
		}
		if err := checkItemPath(it.Path); err != nil {
			return nil, fmt.Errorf("items[%d].path: %w", i, err)
		}
		mode, err := fileMode(it.Mode, defMode)
		if err != nil {
			return nil, fmt.Errorf("items[%d].mode: %w", i, err)
		}
		if _, dup := p[it.Path]; dup {
			return nil, fmt.Errorf("items[%d].path %q used twice: %w", i, it.Path, ErrInvalid)
		}
		p[it.Path] = file{data: v, mode: mode}
	}
	return p, checkNesting(p)
}

// checkNesting rejects a payload where one path is a file and also a
// directory of another ("a" and "a/b").
func checkNesting(p payload) error {
	for k := range p {
		for i := strings.IndexByte(k, '/'); i >= 0; i = nextSlash(k, i) {
			if _, clash := p[k[:i]]; clash {
				return fmt.Errorf("path %q is also a directory of %q: %w", k[:i], k, ErrInvalid)
			}
		}
	}
	return nil
}

// nextSlash returns the index of the next '/' in s after i, or -1.
func nextSlash(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// fileMode converts a manifest mode, which must fit in 0777, or returns def
// when unset.
func fileMode(m *int32, def fs.FileMode) (fs.FileMode, error) {
	if m == nil {
		return def, nil
	}
	if *m < 0 || *m > 0o777 {
		return 0, fmt.Errorf("mode %#o must be between 0 and 0777: %w", *m, ErrInvalid)
	}
	return fs.FileMode(*m), nil
}

// topLevel returns the first element of each payload path, deduplicated:
// the user-visible links of the atomic writer layout.
func (p payload) topLevel() map[string]bool {
	top := make(map[string]bool, len(p))
	for k := range p {
		first, _, _ := strings.Cut(k, "/")
		top[first] = true
	}
	return top
}

// secretTmpfsSize is the size of the tmpfs holding a secret volume: room
// for two versions of the payload (an update writes the new one before the
// old one is removed), each file rounded up to whole pages as tmpfs
// allocates them, plus 1 MiB of headroom for small updates.
func secretTmpfsSize(p payload, pageSize int64) int64 {
	var total int64
	for _, f := range p {
		total += (int64(len(f.data)) + pageSize - 1) / pageSize * pageSize
	}
	return 2*total + 1<<20
}

// isTrue reports whether an optional bool is set and true.
func isTrue(b *bool) bool { return b != nil && *b }
