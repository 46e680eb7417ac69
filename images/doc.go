// Package images is berth's local image store: it imports images from
// docker-save or OCI image-layout tarballs (optionally gzip-compressed),
// from OCI layouts that package registry downloads (ImportLayout), and
// from plain directories, unpacks every layer (plain, gzip or zstd) once
// into a directory that overlayfs can use as a lower layer, and resolves
// references for the pod runtime and the CLI.
//
// # Layout
//
// Everything lives under the store root (berth uses <state-dir>/images),
// which is created 0700 so that no container can see it:
//
//	lock                      flock(2): shared for reads, exclusive for changes
//	refs.json                 {"name:tag": "sha256:<image-id>", ...}
//	images/<id-hex>.json      image record: OCI config, ordered diff IDs, sizes, blob digests
//	blobs/sha256/<hex>        every blob of an imported image, exactly as it came
//	layers/<diffid-hex>/      one unpacked layer, shared by every image using it
//	tmp/<random>/             private work dirs of running imports
//	partial/sha256/<hex>      kept bytes of interrupted blob downloads (OpenPartial)
//
// An image ID is the sha256 digest of its config JSON (as in Docker); a
// layer is named by its diff ID, the sha256 of its uncompressed tar. The
// blobs are the config, each layer blob as found in the archive
// (compressed or not) and, for OCI layouts, the index and manifest blobs
// that led to the image; nothing is synthesised for docker save archives,
// and ImportRootfs keeps the uncompressed layer tar it builds and its
// config. A blob or layer shared by several images is stored once; the
// image record lists the blobs it uses (records from before blobs were
// kept list none), and Remove collects blobs and layers no record uses.
//
// Every metadata file is written atomically (temp file, fsync, rename).
// Imports unpack layers, and copy verified blobs, into a work dir under
// tmp/ that holds its own flock while in use; Open removes work dirs whose
// lock is free (left by a crash). Finished layers and blobs are renamed
// into layers/ and blobs/ under the store lock, so those hold only
// complete content. A registry pull downloads each blob into partial/,
// locked while it writes, so that a failed, cancelled or killed pull
// leaves the bytes it had for the next one to continue; a blob moves on
// into the pull's work dir only once the downloader has hashed all of it
// to its digest. GC removes partials no download has written for
// PartialMaxAge, Prune every one no download holds.
//
// # References
//
// References are parsed and normalized as Docker does (ref.go, tested
// against github.com/distribution/reference): a missing tag means
// ":latest", and a name without a registry is on Docker Hub, whose official
// images live in "library/". So "busybox", "library/busybox", "busybox:latest" and
// "docker.io/library/busybox:latest" name the same image. The store keeps
// and shows the familiar form, "busybox:latest", as docker image ls does;
// other registries keep their host ("ghcr.io/x/y:1"). A reference with both
// a tag and a digest ("busybox:1@sha256:...") means the digest, as with
// docker pull. Get also accepts an image ID or a unique prefix of one, with
// or without "sha256:".
//
// # Layer safety
//
// The unpacker resolves every entry inside the layer directory through
// directory fds opened with O_NOFOLLOW, so no entry is ever created through
// a symlink, and "..", hardlinks that leave the layer and oversized or
// over-long archives are refused (absolute names are taken relative to the
// layer root; docs/security.md rules 1, 2 and 8). Whiteouts are converted
// to overlayfs form as containerd's
// overlay snapshotter does: ".wh.x" becomes a 0/0 character device "x", and
// ".wh..wh..opq" sets trusted.overlay.opaque=y on its directory; an opaque
// whiteout at the layer root, which would hide every layer below, is
// refused. Both need root: run as another user, a layer containing
// whiteouts or device nodes is refused with ErrNeedsRoot, ownership is not
// applied and setuid/setgid bits are dropped.
//
// # Refused documents
//
// An import is refused (ErrInvalidImage) when a JSON document could mean
// different images to different tools (CVE-2021-41190): an index (the
// layout's index.json or a nested one) that also has a manifest's "layers"
// or "config", a manifest that also has an index's "manifests", a config
// with either, or a mediaType field that names another kind than the
// descriptor that led to the document. This holds for OCI layouts and for
// the OCI documents Docker 25+ adds to docker save archives, although berth
// reads those through manifest.json.
//
// # Device nodes
//
// A character or block device entry is unpacked as a whiteout (a 0:0
// character device, the form overlay whiteouts already have), never as a
// node with the entry's numbers; the import logs the paths. In the
// container the path reads as absent and hides what lower layers had
// there, as the node would have. Keeping the nodes and relying on the
// container's nodev rootfs and device cgroup would also stop a container
// from opening them, but the nodes would then exist on the host, under the
// store, where any root process walking the state directory opens the
// host's disk or terminal through them, and a privileged container (no
// nodev, every device) could use them. Real images lose nothing: the nodes
// they carry sit under /dev, which berth's own /dev tmpfs (or the host's
// /dev for a privileged container) covers. FIFOs are kept.
package images
