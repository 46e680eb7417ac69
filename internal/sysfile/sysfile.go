// Package sysfile writes the kernel's control files: cgroup and proc
// files that exist already and take one value per write.
package sysfile

import "os"

// WriteExisting writes s to path in one write, as cgroupfs and procfs
// expect, without creating or truncating the file.
func WriteExisting(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	return writeClose(f, path, s)
}
