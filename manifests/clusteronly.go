package manifests

import "reflect"

// clusterOnly is how the decoder treats a Kubernetes field that only means
// something to a cluster (scheduling, service accounts, server-written
// metadata). Such fields are accepted with a warning and ignored, so that
// manifests written for a cluster run unchanged on one node.
type clusterOnly struct {
	severity Severity
	message  string
}

type ownerField struct {
	owner reflect.Type
	field string
}

func ignored(field, why string) clusterOnly {
	return clusterOnly{Warning, field + " is ignored: " + why}
}

const (
	scheduling   = "it only matters to a cluster scheduler, and berth runs every pod on this node"
	noAPIServer  = "berth has no API server or service accounts"
	serverOwned  = "it is written by a Kubernetes API server, not by users"
	statusIgnore = "status is reported by berth, not read from the manifest"
	// An immutable object's data cannot change through a cluster's API;
	// berth reads files, and an edited file still reaches running pods.
	noAPIServerToRefuse = "berth has no API server to refuse changes: an edited file still reaches the running pods' volumes"
)

var clusterOnlyFields = map[ownerField]clusterOnly{
	{typeOf[PodSpec](), "nodeName"}:                     ignored("nodeName", scheduling),
	{typeOf[PodSpec](), "nodeSelector"}:                 ignored("nodeSelector", scheduling),
	{typeOf[PodSpec](), "affinity"}:                     ignored("affinity", scheduling),
	{typeOf[PodSpec](), "tolerations"}:                  ignored("tolerations", scheduling),
	{typeOf[PodSpec](), "priorityClassName"}:            ignored("priorityClassName", scheduling),
	{typeOf[PodSpec](), "priority"}:                     ignored("priority", scheduling),
	{typeOf[PodSpec](), "preemptionPolicy"}:             ignored("preemptionPolicy", scheduling),
	{typeOf[PodSpec](), "schedulerName"}:                ignored("schedulerName", scheduling),
	{typeOf[PodSpec](), "topologySpreadConstraints"}:    ignored("topologySpreadConstraints", scheduling),
	{typeOf[PodSpec](), "schedulingGates"}:              ignored("schedulingGates", "only a cluster scheduler holds a gated pod back, and berth starts every pod on this node at once, as a kubelet starts a static pod whatever its gates"),
	{typeOf[PodSpec](), "readinessGates"}:               ignored("readinessGates", "they are set by cluster controllers"),
	{typeOf[PodSpec](), "overhead"}:                     ignored("overhead", "it is set from a cluster RuntimeClass"),
	{typeOf[PodSpec](), "runtimeClassName"}:             ignored("runtimeClassName", "berth is the only runtime on this node"),
	{typeOf[PodSpec](), "serviceAccountName"}:           ignored("serviceAccountName", noAPIServer),
	{typeOf[PodSpec](), "serviceAccount"}:               ignored("serviceAccount", noAPIServer),
	{typeOf[PodSpec](), "automountServiceAccountToken"}: ignored("automountServiceAccountToken", noAPIServer),
	{typeOf[PodSpec](), "enableServiceLinks"}:           ignored("enableServiceLinks", "berth has no Services whose addresses it could put in the environment"),

	{typeOf[ObjectMeta](), "creationTimestamp"}:          ignored("creationTimestamp", serverOwned),
	{typeOf[ObjectMeta](), "deletionTimestamp"}:          ignored("deletionTimestamp", serverOwned),
	{typeOf[ObjectMeta](), "deletionGracePeriodSeconds"}: ignored("deletionGracePeriodSeconds", serverOwned),
	{typeOf[ObjectMeta](), "resourceVersion"}:            ignored("resourceVersion", serverOwned),
	{typeOf[ObjectMeta](), "generation"}:                 ignored("generation", serverOwned),
	{typeOf[ObjectMeta](), "managedFields"}:              ignored("managedFields", serverOwned),
	{typeOf[ObjectMeta](), "selfLink"}:                   ignored("selfLink", serverOwned),
	{typeOf[ObjectMeta](), "ownerReferences"}:            ignored("ownerReferences", "berth has no controllers or garbage collector"),
	{typeOf[ObjectMeta](), "finalizers"}:                 ignored("finalizers", "berth has no controllers or garbage collector"),
	{typeOf[ObjectMeta](), "generateName"}: {Error,
		"generateName is not allowed: a pod from a file needs a fixed metadata.name, so that berth can tell a changed pod from a new one"},

	{typeOf[Pod](), "status"}:                   ignored("status", statusIgnore),
	{typeOf[PersistentVolumeClaim](), "status"}: ignored("status", statusIgnore),

	{typeOf[ConfigMap](), "immutable"}: ignored("immutable", noAPIServerToRefuse),
	{typeOf[Secret](), "immutable"}:    ignored("immutable", noAPIServerToRefuse),
}

func clusterOnlyField(owner reflect.Type, name string) (clusterOnly, bool) {
	c, ok := clusterOnlyFields[ownerField{owner, name}]
	return c, ok
}
