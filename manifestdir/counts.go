package manifestdir

import (
	"path/filepath"
	"strings"
)

// manifestExts are the extensions of files that count.
var manifestExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// backupExts are editor swap/backup extensions that never count.
var backupExts = map[string]bool{
	".swp": true, ".swo": true, ".swx": true, ".bak": true, ".orig": true, ".tmp": true,
}

// Counts reports whether a directory entry named name is a manifest:
// *.yaml, *.yml or *.json that is not a dotfile or an editor or backup
// file. Whether the entry is a regular file (or a symlink to one) is
// checked separately when listing.
func Counts(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") || isEditorFile(name) {
		return false
	}
	return manifestExts[strings.ToLower(filepath.Ext(name))]
}

// isEditorFile reports names that editors and package managers leave
// behind: backups (pod.yaml~, pod.yaml.bak, pod.yaml.dpkg-old), swap and
// autosave files (.pod.yaml.swp, #pod.yaml#) and vim's write test "4913".
func isEditorFile(name string) bool {
	switch {
	case name == "4913",
		strings.HasSuffix(name, "~"),
		len(name) > 1 && strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"),
		strings.Contains(name, ".dpkg-"),
		backupExts[strings.ToLower(filepath.Ext(name))]:
		return true
	}
	return false
}
