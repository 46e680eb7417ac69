package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// want is one expected problem: document (1-based, as printed; 0 for the
// whole file), exact field path, exact line, severity, and a message prefix.
type want struct {
	doc  int
	path string
	line int
	sev  Severity
	msg  string
}

// corpus lists every file under testdata/corpus with the exact problems it
// must produce: no more, no fewer. Files starting with "v" are valid (they
// may carry warnings); files starting with "x" are refused.
var corpus = []struct {
	file string
	want []want
}{
	{file: "v01-minimal.yaml"},
	{file: "v02-full.yaml", want: []want{
		{1, "spec.enableServiceLinks", 18, Warning, "enableServiceLinks is ignored: berth has"},
		{1, "spec.containers[0].resources.requests[ephemeral-storage]", 108, Warning, "an ephemeral-storage request is ignored"},
	}},
	{file: "v03-multi.yaml"},
	{file: "v04-json.yaml"},
	{file: "v05-anchors.yaml"},
	{file: "v06-hostnetwork.yaml"},
	{file: "v07-empty-documents.yaml"},
	{file: "v08-quantities.yaml"},
	{file: "v09-cluster-only.yaml", want: []want{
		{1, "metadata.creationTimestamp", 6, Warning, "creationTimestamp is ignored: it is writ"},
		{1, "metadata.resourceVersion", 7, Warning, "resourceVersion is ignored: it is writte"},
		{1, "metadata.ownerReferences", 8, Warning, "ownerReferences is ignored: berth has no"},
		{1, "spec.nodeName", 14, Warning, "nodeName is ignored: it only matters to "},
		{1, "spec.nodeSelector", 15, Warning, "nodeSelector is ignored: it only matters"},
		{1, "spec.serviceAccountName", 17, Warning, "serviceAccountName is ignored: berth has"},
		{1, "spec.automountServiceAccountToken", 18, Warning, "automountServiceAccountToken is ignored:"},
		{1, "spec.priorityClassName", 19, Warning, "priorityClassName is ignored: it only ma"},
		{1, "spec.tolerations", 20, Warning, "tolerations is ignored: it only matters "},
		{1, "spec.affinity", 22, Warning, "affinity is ignored: it only matters to "},
		{1, "spec.schedulerName", 23, Warning, "schedulerName is ignored: it only matter"},
	}},
	{file: "v10-status.yaml", want: []want{
		{1, "status", 9, Warning, "status is ignored: status is reported by"},
	}},
	{file: "v11-configmap-binary.yaml", want: []want{
		{1, "immutable", 10, Warning, "immutable is ignored: berth has no API s"},
	}},
	{file: "v12-capabilities.yaml"},
	{file: "v13-hostpid-ipc.yaml"},
	{file: "v14-block-scalars.yaml"},
	{file: "v15-accepted-with-warnings.yaml", want: []want{
		{1, "metadata.uid", 5, Warning, "uid is ignored: it is written by a Kube"},
		{1, "spec.enableServiceLinks", 7, Warning, "enableServiceLinks is ignored: berth has"},
		{1, "spec.containers[0].imagePullPolicy", 11, Warning, "imagePullPolicy Always is treated as IfN"},
		{1, "spec.containers[0].resources.requests[ephemeral-storage]", 13, Warning, "an ephemeral-storage request is ignored"},
		{2, "immutable", 19, Warning, "immutable is ignored: berth has no API s"},
	}},
	{file: "v16-statefulset-claims.yaml", want: []want{
		{1, "spec.resources.requests[storage]", 11, Warning, "storage 5Gi is enforced only where the f"},
		{1, "spec.storageClassName", 8, Warning, "storageClassName is ignored: it only mat"},
	}},
	{file: "v17-scheduling-gates.yaml", want: []want{
		{1, "spec.schedulingGates", 6, Warning, "schedulingGates is ignored: only a clust"},
	}},
	{file: "x01-unknown-field-deep.yaml", want: []want{
		{1, "spec.containers[1].volumeMounts[0].readonly", 17, Error, "unknown field \"readonly\": did you mean \""},
		{1, "spec.containers[1].restartCount", 18, Error, "unknown field \"restartCount\": remove it,"},
	}},
	{file: "x02-string-for-int.yaml", want: []want{
		{1, "spec.terminationGracePeriodSeconds", 6, Error, "expected an integer, got the string \"30\""},
		{1, "spec.containers[0].ports[0].containerPort", 11, Error, "expected an integer, got the number 8080"},
		{1, "spec.containers[0].command", 12, Error, "expected a list, got the string \"sleep\""},
	}},
	{file: "x03-list-for-map.yaml", want: []want{
		{1, "metadata.labels", 6, Error, "expected a mapping, got a list"},
		{1, "spec.containers", 9, Error, "expected a list, got a mapping"},
	}},
	{file: "x04-undeclared-volume.yaml", want: []want{
		{1, "spec.containers[1].volumeMounts[1].name", 17, Error, "volume \"data\" is not declared in spec.vo"},
	}},
	{file: "x05-multi-bad-first-third.yaml", want: []want{
		{1, "spec.containers[0].imagePullPolicy", 9, Error, "\"Sometimes\" is not valid: use one of \"Al"},
		{3, "spec.restartPolicy", 23, Error, "\"Sometimes\" is not valid: use one of \"Al"},
	}},
	{file: "x06-bad-base64.yaml", want: []want{
		{1, "data[bad]", 7, Error, "value is not valid base64 (illegal base6"},
	}},
	{file: "x07-alias-bomb.yaml", want: []want{
		{1, "", 1, Error, "the document expands to more than 11220 "},
	}},
	{file: "x08-merge-bomb.yaml", want: []want{
		{1, "", 1, Error, "the document expands to more than 10800 "},
	}},
	{file: "x09-unknown-kind.yaml", want: []want{
		{1, "kind", 2, Error, "kind \"Deployment\" is not accepted: berth"},
	}},
	{file: "x10-api-version.yaml", want: []want{
		{1, "apiVersion", 1, Error, "apiVersion \"v2\" is not valid for Pod: us"},
		{2, "apiVersion", 10, Error, "apiVersion is missing: set apiVersion: v"},
	}},
	{file: "x11-missing-kind.yaml", want: []want{
		{1, "kind", 1, Error, "kind is missing: set kind to Pod, Config"},
	}},
	{file: "x12-syntax-error.yaml", want: []want{
		{2, "", 14, Error, "YAML syntax error: mapping values are no"},
		{3, "metadata.name", 20, Error, "\"Bad_Name\" is not a valid DNS-1123 subdo"},
	}},
	{file: "x13-bad-names.yaml", want: []want{
		{1, "metadata.name", 4, Error, "\"Web_App\" is not a valid DNS-1123 subdom"},
		{1, "metadata.namespace", 5, Error, "\"my.namespace\" is not a valid DNS-1123 l"},
		{1, "spec.containers[0].name", 8, Error, "\"App\" is not a valid DNS-1123 label: use"},
		{1, "spec.containers[0].ports[0].name", 11, Error, "port name \"http-port-is-too-long\" is lon"},
		{1, "spec.containers[0].ports[1].name", 13, Error, "port name \"8080\" must contain at least o"},
	}},
	{file: "x14-duplicate-containers.yaml", want: []want{
		{1, "spec.containers[0].name", 10, Error, "container name \"app\" is already used by "},
		{1, "spec.containers[2].name", 14, Error, "container name \"other\" is already used b"},
	}},
	{file: "x15-volume-sources.yaml", want: []want{
		{1, "spec.volumes[0].hostPath", 9, Error, "volume \"both\" has more than one source ("},
		{1, "spec.volumes[1]", 11, Error, "volume \"none\" has no source berth can pr"},
		{1, "spec.volumes[2].name", 12, Error, "volume name \"both\" is used more than onc"},
	}},
	{file: "x16-mount-paths.yaml", want: []want{
		{1, "spec.containers[0].volumeMounts[0].mountPath", 14, Error, "mountPath \"data\" must be absolute"},
		{1, "spec.containers[0].volumeMounts[1].mountPath", 16, Error, "mountPath \"/srv/../etc\" must not contain"},
		{1, "spec.containers[0].volumeMounts[3].mountPath", 20, Error, "mountPath \"/srv/\" is used by more than o"},
		{1, "spec.containers[0].volumeMounts[4].subPath", 23, Error, "\"../../etc\" must not contain '..'"},
		{1, "spec.containers[0].volumeMounts[5].subPath", 26, Error, "\"/abs\" must be a relative path"},
	}},
	{file: "x17-ports.yaml", want: []want{
		{1, "spec.containers[0].ports[0].containerPort", 10, Error, "port 0 is out of range: use 1 to 65535"},
		{1, "spec.containers[0].ports[1].hostPort", 12, Error, "port 70000 is out of range: use 1 to 655"},
		{1, "spec.containers[0].ports[2].protocol", 14, Error, "\"tcp\" is not valid: use one of \"TCP\", \"U"},
		{1, "spec.containers[0].ports[3].hostIP", 17, Error, "\"300.1.1.1\" is not a valid IP address"},
		{1, "spec.containers[0].ports[5].name", 21, Error, "port name \"web\" is used more than once i"},
	}},
	{file: "x18-hostport-conflicts.yaml", want: []want{
		{1, "spec.containers[1].ports[0].hostPort", 19, Error, "host port 8080/TCP is already used by sp"},
		{1, "spec.containers[1].ports[2].hostPort", 24, Error, "host port 8081/TCP is already used by sp"},
	}},
	{file: "x19-hostnetwork-mismatch.yaml", want: []want{
		{1, "spec.containers[0].ports[0].hostPort", 12, Error, "with hostNetwork, hostPort (8080) must e"},
	}},
	{file: "x20-quantities.yaml", want: []want{
		{1, "spec.containers[0].resources.limits[cpu]", 11, Error, "invalid quantity: \"1.2.3\": unknown suffi"},
		{1, "spec.containers[0].resources.limits[memory]", 12, Error, "invalid quantity: \"10Ei\" is out of range"},
		{1, "spec.containers[0].resources.requests[cpu]", 14, Error, "cpu -1 must not be negative"},
		{1, "spec.containers[0].resources.requests[memory]", 15, Error, "invalid quantity: \"12XB\": unknown suffix"},
	}},
	{file: "x21-requests-over-limits.yaml", want: []want{
		{1, "spec.containers[0].resources.requests[cpu]", 14, Error, "request 501m for cpu is larger than its "},
	}},
	{file: "x22-policies.yaml", want: []want{
		{1, "spec.restartPolicy", 6, Error, "\"always\" is not valid: use one of \"Alway"},
		{1, "spec.dnsPolicy", 7, Error, "\"Cluster\" is not valid: use one of \"Clus"},
		{1, "spec.containers[0].terminationMessagePolicy", 11, Error, "\"Never\" is not valid: use one of \"File\","},
	}},
	{file: "x23-dns-config.yaml", want: []want{
		{1, "spec.dnsConfig.nameservers", 8, Error, "at most 3 nameservers are allowed, got 4"},
		{1, "spec.dnsConfig.searches[0]", 9, Error, "\"Bad_Domain\" is not a valid DNS-1123 sub"},
		{2, "spec.dnsConfig", 18, Error, "dnsPolicy None needs dnsConfig with at l"},
	}},
	{file: "x24-images.yaml", want: []want{
		{1, "spec.containers[0].image", 8, Error, "image is required"},
		{1, "spec.containers[1].image", 10, Error, "image \"busybox :1.36\" must not contain w"},
		{1, "spec.containers[2].image", 11, Error, "image is required"},
	}},
	{file: "x25-env.yaml", want: []want{
		{1, "spec.containers[0].env[0].name", 10, Error, "name \"A=B\" must not contain '='"},
		{1, "spec.containers[0].env[1].name", 12, Error, "name is required"},
		{1, "spec.containers[0].env[2].valueFrom", 16, Error, "set either value or valueFrom, not both"},
		{1, "spec.containers[0].env[3].valueFrom", 20, Error, "set exactly one of fieldRef, resourceFie"},
		{1, "spec.containers[0].env[4].valueFrom", 24, Error, "set exactly one of fieldRef, resourceFie"},
		{1, "spec.containers[0].env[5].valueFrom.fieldRef.fieldPath", 28, Error, "fieldPath \"spec.containers\" is not suppo"},
		{1, "spec.containers[0].envFrom[0]", 30, Error, "set exactly one of configMapRef or secre"},
	}},
	{file: "x26-hostpath.yaml", want: []want{
		{1, "spec.volumes[0].hostPath.path", 9, Error, "path \"var/data\" must be absolute"},
		{1, "spec.volumes[1].hostPath.path", 12, Error, "path \"/var/../etc\" must not contain '..'"},
		{1, "spec.volumes[1].hostPath.type", 13, Error, "\"Dir\" is not valid: use one of \"Director"},
		{1, "spec.volumes[2].emptyDir.medium", 16, Error, "medium \"memory\" is not valid: use \"\" (di"},
	}},
	{file: "x27-projection-items.yaml", want: []want{
		{1, "spec.volumes[0].configMap.defaultMode", 10, Error, "mode 512 is not valid: use 0 to 0777 (oc"},
		{1, "spec.volumes[0].configMap.items[0].path", 13, Error, "\"../escape\" must not contain '..'"},
		{1, "spec.volumes[0].configMap.items[1].path", 15, Error, "\"/abs\" must be a relative path"},
		{1, "spec.volumes[0].configMap.items[2].key", 16, Error, "key \"..c\" must not be '.' or start with "},
		{1, "spec.volumes[0].configMap.items[2].mode", 18, Error, "mode -1 is not valid: use 0 to 0777 (oct"},
		{1, "spec.volumes[1].secret.secretName", 20, Error, "secretName is required"},
	}},
	{file: "x28-ids.yaml", want: []want{
		{1, "spec.securityContext.runAsUser", 7, Error, "4294967296 is out of range: use 0 to 214"},
		{1, "spec.securityContext.supplementalGroups[0]", 8, Error, "-1 is out of range: use 0 to 2147483647"},
		{1, "spec.containers[0].securityContext.runAsGroup", 13, Error, "2147483648 is out of range: use 0 to 214"},
		{1, "spec.containers[0].securityContext.runAsNonRoot", 14, Error, "runAsNonRoot is true but the container r"},
	}},
	{file: "x29-capabilities.yaml", want: []want{
		{1, "spec.containers[0].securityContext.allowPrivilegeEscalation", 11, Error, "cannot be false when privileged is true"},
		{1, "spec.containers[0].securityContext.capabilities.add[1]", 13, Error, "\"CAP_ROOT\" is not a Linux capability: us"},
		{1, "spec.containers[0].securityContext.capabilities.drop[0]", 14, Error, "\"sys admin\" is not a Linux capability: u"},
	}},
	{file: "x30-grace-hostname.yaml", want: []want{
		{1, "spec.terminationGracePeriodSeconds", 6, Error, "must not be negative"},
		{1, "spec.hostname", 7, Error, "\"My_Host\" is not a valid DNS-1123 label:"},
		{1, "spec.subdomain", 8, Error, "\"a.b\" is not a valid DNS-1123 label: use"},
		{1, "spec.shareProcessNamespace", 9, Error, "shareProcessNamespace and hostPID cannot"},
		{1, "spec.hostAliases[0].ip", 12, Error, "\"10.0.0.300\" is not a valid IP address"},
	}},
	{file: "x31-unsupported.yaml", want: []want{
		{1, "spec.containers[0].livenessProbe.exec.command[0]", 22, Error, "expected a string, got the boolean true:"},
		{1, "spec.containers[0].ports[0].protocol", 35, Unsupported, "protocol \"SCTP\" is not supported yet by "},
		{1, "spec.containers[0].volumeMounts[0].mountPropagation", 45, Error, "Bidirectional mount propagation is avail"},
		{1, "spec.containers[0].resources.limits[hugepages-2Mi]", 48, Unsupported, "limits[hugepages-2Mi] is not supported y"},
		{1, "spec.containers[0].securityContext.procMount", 50, Unsupported, "procMount \"Unmasked\" is not supported ye"},
	}},
	{file: "x32-unsupported-unmodelled.yaml", want: []want{
		{1, "spec.os.name", 7, Unsupported, "name \"windows\" is not supported yet by "},
		{1, "spec.volumes[0].nfs", 10, Unsupported, "nfs is not supported yet by berth"},
	}},
	{file: "x33-generate-name.yaml", want: []want{
		{1, "metadata.name", 3, Error, "name is required"},
		{1, "metadata.generateName", 4, Error, "generateName is not allowed: a pod from "},
	}},
	{file: "x34-duplicate-keys.yaml", want: []want{
		{1, "metadata.labels[app]", 7, Error, "key \"app\" is given twice: keep only one"},
		{1, "spec.containers[0].image", 12, Error, "field \"image\" is given twice: keep only "},
	}},
	{file: "x35-labels.yaml", want: []want{
		{1, "metadata.labels[-bad-key]", 6, Error, "key \"-bad-key\" is not a valid name: use "},
		{1, "metadata.labels[example.com/ok]", 7, Error, "label value \"value with spaces\" is not v"},
		{1, "metadata.labels[Example.COM/x]", 8, Error, "the prefix of key \"Example.COM/x\": \"Exam"},
		{1, "metadata.labels[version]", 9, Error, "expected a string, got the number 1.0: p"},
		{1, "metadata.annotations[/empty-prefix]", 11, Error, "key \"/empty-prefix\" has an empty prefix "},
	}},
	{file: "x36-not-a-mapping.yaml", want: []want{
		{1, "", 1, Error, "a document must be a Kubernetes object ("},
		{2, "", 4, Error, "a document must be a Kubernetes object ("},
	}},
	{file: "x37-wrong-scalars.yaml", want: []want{
		{1, "spec.hostNetwork", 6, Error, "expected true or false, got the string \""},
		{1, "spec.containers[0].ports[0].containerPort", 11, Error, "number 99999999999 is out of range for a"},
		{1, "spec.containers[0].ports[1].hostPort", 13, Error, "number 2147483648 is out of range for a "},
		{1, "spec.containers[0].stdin", 14, Error, "expected true or false, got the string \""},
		{1, "spec.containers[0].args[0]", 15, Error, "expected a string, got the integer 1: pu"},
		{1, "spec.containers[0].args[1]", 15, Error, "expected a string, got the boolean true:"},
	}},
	{file: "x38-configmap-keys.yaml", want: []want{
		{1, "data[bad/key]", 7, Error, "key \"bad/key\" is not valid: use at most "},
		{1, "data[..hidden]", 8, Error, "key \"..hidden\" must not be '.' or start "},
		{1, "binaryData[ok.key]", 10, Error, "key \"ok.key\" is also in data: a key may "},
		{2, "stringData[bad key]", 17, Error, "key \"bad key\" is not valid: use at most "},
	}},
	{file: "x39-sysctls.yaml", want: []want{
		{1, "spec.securityContext.sysctls[0].name", 8, Error, "sysctl \"kernel.core_pattern\" is not name"},
		{1, "spec.securityContext.sysctls[1].value", 11, Error, "sysctl net.core.somaxconn value \"1024+ke"},
		{1, "spec.securityContext.sysctls[2].name", 12, Error, "sysctl name \"Net.Bad\" is not valid: use "},
	}},
	{file: "x40-seccomp.yaml", want: []want{
		{1, "spec.securityContext.seccompProfile.localhostProfile", 9, Error, "\"../../etc/shadow\" must not contain '..'"},
		{1, "spec.containers[0].securityContext.seccompProfile.type", 15, Error, "\"Strict\" is not valid: use one of \"Runti"},
		{1, "spec.containers[0].securityContext.procMount", 16, Error, "\"Weird\" is not valid: use one of \"Defaul"},
	}},
	{file: "x41-no-containers.yaml", want: []want{
		{1, "spec.containers", 6, Error, "a pod needs at least one container"},
	}},
	{file: "x42-unknown-top-level.yaml", want: []want{
		{1, "spec.containers", 1, Error, "a pod needs at least one container"},
		{1, "metadata.uid", 5, Error, "expected a string, got the integer 1234:"},
		{1, "sepc", 6, Error, "unknown field \"sepc\": remove it, or chec"},
	}},
	{file: "x43-mixed-severities.yaml", want: []want{
		{1, "spec.nodeName", 6, Warning, "nodeName is ignored: it only matters to "},
		{1, "spec.containers[0].imagePullPolicy", 13, Error, "\"always\" is not valid: use one of \"Alway"},
	}},
	{file: "x44-env-source-names.yaml", want: []want{
		{1, "spec.containers[0].env[0].valueFrom.configMapKeyRef.name", 13, Error, "\"Bad_CM\" is not a valid DNS-1123 subdoma"},
		{1, "spec.containers[0].env[0].valueFrom.configMapKeyRef.key", 14, Error, "key \"a b\" is not valid: use at most 253 "},
		{1, "spec.containers[0].envFrom[0]", 16, Error, "set exactly one of configMapRef or secre"},
	}},
	{file: "x55-probes.yaml", want: []want{
		{1, "spec.initContainers[0].readinessProbe", 9, Error, "must not be set for an init container un"},
		{1, "spec.containers[0].livenessProbe", 15, Error, "a probe takes only one of exec, httpGet,"},
		{1, "spec.containers[0].livenessProbe.httpGet.port", 17, Error, "port 0 is out of range: use 1 to 65535, "},
		{1, "spec.containers[0].livenessProbe.httpGet.scheme", 18, Error, "\"FTP\" is not valid: use one of \"HTTP\", \""},
		{1, "spec.containers[0].livenessProbe.httpGet.httpHeaders[0].name", 20, Error, "\"Bad Header\" is not a valid HTTP header "},
		{1, "spec.containers[0].livenessProbe.successThreshold", 24, Error, "must be 1 for liveness and startup probe"},
		{1, "spec.containers[0].readinessProbe.exec.command", 27, Error, "command is required"},
		{1, "spec.containers[0].readinessProbe.terminationGracePeriodSeconds", 28, Error, "must not be set for a readiness probe"},
		{1, "spec.containers[0].readinessProbe.periodSeconds", 29, Error, "must be 0 or more (0 takes the default),"},
		{1, "spec.containers[0].startupProbe.grpc.port", 32, Error, "port 70000 is out of range: use 1 to 655"},
		{1, "spec.containers[1].livenessProbe", 35, Error, "a probe needs one of exec, httpGet, tcpS"},
		{1, "spec.containers[1].readinessProbe.tcpSocket.port", 39, Error, "port name \"Not_A_Name\" may contain only "},
	}},
	{file: "x56-sidecars.yaml", want: []want{
		{1, "spec.initContainers[1].restartPolicy", 19, Error, "\"OnFailure\" is not valid: use one of \"Al"},
		{1, "spec.initContainers[2].livenessProbe", 22, Error, "must not be set for an init container un"},
		{1, "spec.containers[0].restartPolicy", 28, Error, "may be set only on an init container (A"},
	}},
	{file: "x45-alias-cycle.yaml", want: []want{
		{1, "", 1, Error, "a YAML alias (*name) refers to the value"},
	}},
	{file: "x47-secret-types.yaml", want: []want{
		{2, "type", 15, Error, "type kubernetes.io/tls needs the key \"tl"},
		{3, "type", 23, Error, "type kubernetes.io/basic-auth needs a us"},
		{4, "stringData[.dockerconfigjson]", 33, Error, "the value is not valid JSON"},
		{5, "type", 39, Warning, "type kubernetes.io/service-account-toke"},
	}},
	{file: "x46-accepted-then-ignored.yaml", want: []want{
		{1, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/b]", 7, Unsupported, "AppArmor profile \"runtime/default\" is no"},
		{1, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]", 8, Unsupported, "AppArmor profile \"localhost/my-profile\" "},
		{1, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/ghost]", 9, Error, "the pod has no container \"ghost\""},
		{1, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/init]", 10, Error, "AppArmor profile \"Strict\" is not valid"},
		{1, "spec.volumes[0].emptyDir.sizeLimit", 16, Unsupported, "sizeLimit on a disk emptyDir is not supp"},
		{1, "spec.containers[0].resources.requests[ephemeral-storage]", 26, Warning, "an ephemeral-storage request is ignored"},
		{1, "spec.containers[0].resources.limits[ephemeral-storage]", 27, Unsupported, "limits[ephemeral-storage] is not support"},
		{1, "spec.containers[1].securityContext.appArmorProfile.type", 31, Unsupported, "type \"RuntimeDefault\" is not supported "},
		{1, "spec.containers[2].securityContext.appArmorProfile.type", 35, Unsupported, "type \"Localhost\" is not supported yet b"},
		{1, "spec.containers[3].securityContext.appArmorProfile.localhostProfile", 39, Error, "localhostProfile may only be set when ty"},
	}},
}

func TestCorpus(t *testing.T) {
	t.Parallel()
	listed := map[string]bool{}
	for _, tc := range corpus {
		listed[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFile(filepath.Join("testdata", "corpus", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := f.Problems()
			for _, w := range tc.want {
				if !containsProblem(got, w) {
					t.Errorf("missing problem: document %d, %s (line %d), %v, %q...", w.doc, w.path, w.line, w.sev, w.msg)
				}
			}
			if len(got) != len(tc.want) {
				for _, p := range got {
					t.Logf("got: %v [%v]", p, p.Severity)
				}
				t.Errorf("got %d problems, want %d", len(got), len(tc.want))
			}
			valid := strings.HasPrefix(tc.file, "v")
			if f.HasErrors() == valid {
				t.Errorf("HasErrors() = %v for a file named %s", f.HasErrors(), tc.file)
			}
			for _, p := range got {
				if p.File != f.Path {
					t.Errorf("problem %v names file %q, want %q", p, p.File, f.Path)
				}
			}
		})
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			t.Errorf("testdata/corpus/%s is not listed in the corpus table", e.Name())
		}
	}
}

func containsProblem(ps []Problem, w want) bool {
	for _, p := range ps {
		if p.Document+1 == w.doc && p.Path == w.path && p.Line == w.line && p.Severity == w.sev && strings.HasPrefix(p.Message, w.msg) {
			return true
		}
	}
	return false
}
