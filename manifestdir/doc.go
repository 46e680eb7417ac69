// Package manifestdir turns the manifest directory into desired state: which
// entries count, loading and cross-checking them, and watching for change.
//
// Only *.yaml, *.yml and *.json files directly in the directory count
// (symlinks are followed, which makes the Kubernetes ConfigMap "..data"
// swap layout work); dotfiles, editor and backup files and subdirectories
// never do, so pod.yaml.bak can never shadow pod.yaml.
//
// A file that has any error (it does not parse, a document is invalid or
// unsupported, it references a ConfigMap or Secret no file declares, or it
// loses a duplicate-name contest) is "held": none of its pods is started or
// changed, and the pods its last good version started keep running. Fixing
// the file releases it.
//
// Writing manifests: write to a temporary name that does not count (for
// example ".pod.yaml.tmp") and rename it over the target; rename is atomic,
// so berth sees either the old or the new file. A file written in place is
// picked up after the writer pauses for the debounce delay; if it is read
// half-written and fails to parse, it is simply held until the next read.
package manifestdir
