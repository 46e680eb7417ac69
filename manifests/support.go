package manifests

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// unsupported lists every Kubernetes field berth accepts as valid but does
// not implement yet. Each one is refused with severity Unsupported, naming
// the field, so that nobody runs a pod without the probe, limit or hook they
// asked for. This is the one table to shrink as berth grows.
//
// Fields that types.go does not model are matched by name when the decoder
// meets them. Modelled fields are checked on the decoded value by
// checkUnsupported: bad returns the offending sub-paths ("" for the field
// itself, "[key]" for a map key); a nil bad means any non-zero value.
var unsupported = []unsupportedField{
	// Pod.
	{owner: typeOf[PodSpec](), field: "ephemeralContainers"},
	{owner: typeOf[PodOS](), field: "name", bad: stringIn("windows"), detail: ": berth runs Linux containers"},
	{owner: typeOf[PodSpec](), field: "hostUsers", detail: ": user namespaces are not implemented"},
	{owner: typeOf[PodSpec](), field: "setHostnameAsFQDN"},
	{owner: typeOf[PodSpec](), field: "resourceClaims"},
	{owner: typeOf[PodSpec](), field: "resources", detail: ": set resources per container"},
	{owner: typeOf[PodSecurityContext](), field: "seLinuxOptions", detail: ": berth does not label with SELinux"},
	{owner: typeOf[PodSecurityContext](), field: "seLinuxChangePolicy"},
	{owner: typeOf[PodSecurityContext](), field: "supplementalGroupsPolicy"},
	{owner: typeOf[PodSecurityContext](), field: "windowsOptions"},

	// Containers and init containers.
	{owner: typeOf[LifecycleHandler](), field: "tcpSocket", detail: ": Kubernetes never runs it as a hook (the kubelet fails it at run time); use exec, httpGet or sleep"},
	{owner: typeOf[Container](), field: "volumeDevices"},
	{owner: typeOf[Container](), field: "restartPolicyRules"},
	{owner: typeOf[ResourceRequirements](), field: "limits", bad: mapKeysNotIn("cpu", "memory"), detail: ": only cpu and memory limits are enforced"},
	{owner: typeOf[ResourceRequirements](), field: "requests", bad: mapKeysNotIn("cpu", "memory", "ephemeral-storage"), detail: ": only cpu, memory and ephemeral-storage are"},
	{owner: typeOf[ResourceRequirements](), field: "claims"},
	{owner: typeOf[SecurityContext](), field: "procMount", bad: stringIn("Unmasked")},
	{owner: typeOf[SecurityContext](), field: "seLinuxOptions", detail: ": berth does not label with SELinux"},
	{owner: typeOf[SecurityContext](), field: "windowsOptions"},
	{owner: typeOf[AppArmorProfile](), field: "type", bad: stringIn("RuntimeDefault", "Localhost"), detail: appArmorDetail + "; use Unconfined"},
	{owner: typeOf[ContainerPort](), field: "protocol", bad: stringIn("SCTP")},
	{owner: typeOf[EnvVarSource](), field: "fileKeyRef"},
	{owner: typeOf[VolumeMount](), field: "recursiveReadOnly"},

	{owner: typeOf[EmptyDirVolumeSource](), field: "medium", bad: stringHasPrefix("HugePages"), detail: ": use \"\" or \"Memory\""},

	// PersistentVolumeClaim documents: berth's claims are local directories.
	{owner: typeOf[PersistentVolumeClaimSpec](), field: "selector", detail: ": a claim is bound to its own local volume"},
	{owner: typeOf[PersistentVolumeClaimSpec](), field: "volumeName", detail: ": a claim is bound to its own local volume"},
	{owner: typeOf[PersistentVolumeClaimSpec](), field: "dataSource", detail: ": a new claim starts empty"},
	{owner: typeOf[PersistentVolumeClaimSpec](), field: "dataSourceRef", detail: ": a new claim starts empty"},
	{owner: typeOf[PersistentVolumeClaimSpec](), field: "volumeAttributesClassName"},
	{owner: typeOf[VolumeResourceRequirements](), field: "limits", detail: ": request storage only"},

	// Volume sources other than emptyDir, hostPath, configMap, secret,
	// persistentVolumeClaim, downwardAPI, projected and image.
	{owner: typeOf[VolumeProjection](), field: "serviceAccountToken", detail: ": berth has no service accounts and no API server to issue tokens"},
	{owner: typeOf[VolumeProjection](), field: "clusterTrustBundle", detail: ": berth has no API server holding trust bundles"},
	{owner: typeOf[Volume](), field: "ephemeral"},
	{owner: typeOf[Volume](), field: "csi"},
	{owner: typeOf[Volume](), field: "nfs"},
	{owner: typeOf[Volume](), field: "iscsi"},
	{owner: typeOf[Volume](), field: "fc"},
	{owner: typeOf[Volume](), field: "rbd"},
	{owner: typeOf[Volume](), field: "cephfs"},
	{owner: typeOf[Volume](), field: "glusterfs"},
	{owner: typeOf[Volume](), field: "gitRepo"},
	{owner: typeOf[Volume](), field: "flexVolume"},
	{owner: typeOf[Volume](), field: "cinder"},
	{owner: typeOf[Volume](), field: "awsElasticBlockStore"},
	{owner: typeOf[Volume](), field: "gcePersistentDisk"},
	{owner: typeOf[Volume](), field: "azureDisk"},
	{owner: typeOf[Volume](), field: "azureFile"},
	{owner: typeOf[Volume](), field: "vsphereVolume"},
	{owner: typeOf[Volume](), field: "portworxVolume"},
	{owner: typeOf[Volume](), field: "scaleIO"},
	{owner: typeOf[Volume](), field: "storageos"},
	{owner: typeOf[Volume](), field: "quobyte"},
	{owner: typeOf[Volume](), field: "flocker"},
	{owner: typeOf[Volume](), field: "photonPersistentDisk"},
}

// appArmorDetail ends the message for an AppArmor profile other than
// unconfined, as a field or as an annotation.
const appArmorDetail = ": berth loads no AppArmor profiles, so its containers run unconfined"

type unsupportedField struct {
	owner  reflect.Type
	field  string                         // JSON name
	bad    func(v reflect.Value) []string // nil: any non-zero value
	detail string                         // appended to the message
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

var unsupportedIndex = func() map[ownerField]unsupportedField {
	m := make(map[ownerField]unsupportedField, len(unsupported))
	for _, u := range unsupported {
		m[ownerField{u.owner, u.field}] = u
	}
	return m
}()

// unsupportedKey reports whether a field the types do not model is a known
// Kubernetes field berth lacks, with the detail for its message.
func unsupportedKey(owner reflect.Type, name string) (string, bool) {
	u, ok := unsupportedIndex[ownerField{owner, name}]
	return u.detail, ok
}

func stringIn(vals ...string) func(reflect.Value) []string {
	return func(v reflect.Value) []string {
		if slices.Contains(vals, v.String()) {
			return []string{""}
		}
		return nil
	}
}

func stringHasPrefix(prefix string) func(reflect.Value) []string {
	return func(v reflect.Value) []string {
		if strings.HasPrefix(v.String(), prefix) {
			return []string{""}
		}
		return nil
	}
}

func mapKeysNotIn(keys ...string) func(reflect.Value) []string {
	return func(v reflect.Value) []string {
		var out []string
		for _, k := range v.MapKeys() {
			if !slices.Contains(keys, k.String()) {
				out = append(out, "["+k.String()+"]")
			}
		}
		slices.Sort(out)
		return out
	}
}

// checkUnsupported reports every modelled field of the pod that the table
// marks as not supported yet.
func checkUnsupported(p *Pod, add func(path, msg string)) {
	walkFields(reflect.ValueOf(p).Elem(), "", func(owner reflect.Type, name string, v reflect.Value, path string) {
		u, ok := unsupportedIndex[ownerField{owner, name}]
		if !ok {
			return
		}
		var subs []string
		switch {
		case u.bad != nil:
			subs = u.bad(v)
		case !v.IsZero():
			subs = []string{""}
		}
		for _, sub := range subs {
			what := name + sub
			if sub == "" && v.Kind() == reflect.String {
				what = fmt.Sprintf("%s %q", name, v.String())
			}
			add(path+sub, what+" is not supported yet by berth"+u.detail)
		}
	})
}

// walkFields calls fn for every field of every struct reachable from v
// through structs, pointers and slices, with the field's path.
func walkFields(v reflect.Value, path string, fn func(owner reflect.Type, name string, v reflect.Value, path string)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkFields(v.Elem(), path, fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkFields(v.Index(i), joinIndex(path, i), fn)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, inline := jsonName(f)
			if !f.IsExported() || name == "-" || (name == "" && !inline) {
				continue
			}
			if inline {
				walkFields(v.Field(i), path, fn)
				continue
			}
			fpath := joinField(path, name)
			fn(t, name, v.Field(i), fpath)
			walkFields(v.Field(i), fpath, fn)
		}
	}
}
