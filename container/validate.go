package container

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
)

// validate checks the values of a Config that the init stage would
// otherwise pass to the kernel unchecked (docs/security.md rule 7). It
// returns every problem found.
func validate(cfg Config) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(cfg.Args) == 0 || cfg.Args[0] == "" {
		bad("args: empty command")
	}
	if !filepath.IsAbs(cfg.RootfsDir) {
		bad("rootfsDir %q: not absolute", cfg.RootfsDir)
	}
	if len(cfg.LowerDirs) == 0 {
		bad("lowerDirs: none")
	}
	if (cfg.UpperDir == "") != (cfg.WorkDir == "") {
		bad("upperDir and workDir: set one without the other")
	}
	if cfg.UpperDir == "" && len(cfg.LowerDirs) > 1 {
		bad("upperDir: needed with several lower dirs")
	}
	for i, kv := range cfg.Env {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.ContainsRune(kv, 0) {
			bad("env[%d]: %q is not NAME=value without NUL", i, kv)
		}
	}
	if cfg.Cwd != "" && !filepath.IsAbs(cfg.Cwd) {
		bad("cwd %q: not absolute", cfg.Cwd)
	}
	for i, g := range cfg.AdditionalGIDs {
		if g > math.MaxInt32 {
			bad("additionalGids[%d]: %d is above 2147483647", i, g)
		}
	}
	for i, m := range cfg.Mounts {
		if !filepath.IsAbs(m.Target) {
			bad("mounts[%d].target %q: not absolute", i, m.Target)
		}
		if m.SubPath != "" && (filepath.IsAbs(m.SubPath) || escapes(m.SubPath)) {
			bad("mounts[%d].subPath %q: must be relative and stay inside the volume", i, m.SubPath)
		}
		if !mountTypes[m.Type] {
			bad("mounts[%d].type %q: not one of bind, tmpfs, proc, sysfs, devpts, mqueue", i, m.Type)
		}
		if m.SubPath != "" && m.Type != "bind" {
			bad("mounts[%d].subPath: only for bind mounts", i)
		}
		if slices.Contains(m.Options, "rshared") && !cfg.Privileged {
			bad("mounts[%d]: rshared (Bidirectional) propagation is only for privileged containers", i)
		}
	}
	if cfg.OOMScoreAdj < -1000 || cfg.OOMScoreAdj > 1000 {
		bad("oomScoreAdj %d: not within -1000 to 1000", cfg.OOMScoreAdj)
	}
	for _, c := range cfg.Capabilities {
		if _, err := canonicalCap(c); err != nil {
			bad("capabilities: %w", err)
		}
	}
	return errors.Join(errs...)
}

// mountTypes are the filesystem types a Mount may have.
var mountTypes = map[string]bool{"bind": true, "tmpfs": true, "proc": true, "sysfs": true, "devpts": true, "mqueue": true}

// escapes reports whether a relative path climbs above its start with "..".
func escapes(rel string) bool {
	c := filepath.Clean(rel)
	return c == ".." || strings.HasPrefix(c, "../")
}
