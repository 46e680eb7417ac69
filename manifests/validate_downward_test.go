package manifests

import (
	"strings"
	"testing"
)

// downwardPod is a valid pod with a downwardAPI and a projected volume,
// resourceFieldRef env and a subPathExpr; each case below adds one line
// after the marker its key names.
const downwardPod = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  os: {name: linux}
  containers:
  - name: app
    image: demo
    env:
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: MEM
      valueFrom:
        resourceFieldRef:
          resource: limits.memory
          divisor: 1Mi
#ENV
    volumeMounts:
    - {name: info, mountPath: /info, subPathExpr: $(POD_NAME)}
    - {name: all, mountPath: /all, mountPropagation: HostToContainer}
  volumes:
  - name: info
    downwardAPI:
      items:
      - path: labels
        fieldRef: {fieldPath: metadata.labels}
      - path: mem
        resourceFieldRef: {containerName: app, resource: requests.memory, divisor: 1Ki}
#ITEM
  - name: all
    projected:
      defaultMode: 0440
      sources:
      - configMap: {name: cfg, items: [{key: a, path: a}]}
      - secret: {name: creds, optional: true}
      - downwardAPI:
          items:
          - {path: name, fieldRef: {fieldPath: metadata.name}}
#SOURCE
`

func TestValidateDownward(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, marker, line string
		wantPath, wantMsg  string
		wantSev            Severity
	}{
		{name: "valid"},
		{name: "bidirectional unprivileged", marker: "mountPropagation: HostToContainer", line: "mountPropagation: Bidirectional",
			wantPath: "spec.containers[0].volumeMounts[1].mountPropagation", wantSev: Error, wantMsg: "only to privileged containers"},
		{name: "windows", marker: "  os: {name: linux}", line: "  os: {name: windows}",
			wantPath: "spec.os.name", wantSev: Unsupported, wantMsg: "berth runs Linux containers"},
		{name: "unknown os", marker: "  os: {name: linux}", line: "  os: {name: plan9}",
			wantPath: "spec.os.name", wantSev: Error, wantMsg: "plan9"},
		{name: "env resource unknown", marker: "#ENV", line: "    - {name: X, valueFrom: {resourceFieldRef: {resource: limits.hugepages-2Mi}}}",
			wantPath: "spec.containers[0].env[2].valueFrom.resourceFieldRef.resource", wantSev: Error, wantMsg: "limits.cpu"},
		{name: "env cpu divisor", marker: "#ENV", line: "    - {name: X, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1Mi}}}",
			wantPath: "spec.containers[0].env[2].valueFrom.resourceFieldRef.divisor", wantSev: Error, wantMsg: "use one of 1m, 1"},
		{name: "env millicpu divisor", marker: "#ENV", line: "    - {name: X, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}"},
		{name: "env other container", marker: "#ENV", line: "    - {name: X, valueFrom: {resourceFieldRef: {containerName: nope, resource: limits.cpu}}}",
			wantPath: "spec.containers[0].env[2].valueFrom.resourceFieldRef.containerName", wantSev: Error, wantMsg: "not in this pod"},
		{name: "volume item without containerName", marker: "#ITEM", line: "      - {path: cpu, resourceFieldRef: {resource: limits.cpu}}",
			wantPath: "spec.volumes[0].downwardAPI.items[2].resourceFieldRef.containerName", wantSev: Error, wantMsg: "required in a volume"},
		{name: "volume item status field", marker: "#ITEM", line: "      - {path: ip, fieldRef: {fieldPath: status.podIP}}",
			wantPath: "spec.volumes[0].downwardAPI.items[2].fieldRef.fieldPath", wantSev: Error, wantMsg: "cannot be projected into a volume"},
		{name: "volume item one label", marker: "#ITEM", line: "      - {path: app, fieldRef: {fieldPath: \"metadata.labels['app']\"}}"},
		{name: "volume item both refs", marker: "#ITEM", line: "      - {path: x, fieldRef: {fieldPath: metadata.uid}, resourceFieldRef: {containerName: app, resource: limits.cpu}}",
			wantPath: "spec.volumes[0].downwardAPI.items[2]", wantSev: Error, wantMsg: "exactly one of fieldRef or resourceFieldRef"},
		{name: "volume item path twice", marker: "#ITEM", line: "      - {path: labels, fieldRef: {fieldPath: metadata.uid}}",
			wantPath: "spec.volumes[0].downwardAPI.items[2].path", wantSev: Error, wantMsg: "more than one file"},
		{name: "volume item path escaping", marker: "#ITEM", line: "      - {path: ../x, fieldRef: {fieldPath: metadata.uid}}",
			wantPath: "spec.volumes[0].downwardAPI.items[2].path", wantSev: Error, wantMsg: "'..'"},
		{name: "projected path twice across sources", marker: "#SOURCE", line: "      - configMap: {name: cfg, items: [{key: b, path: name}]}",
			wantPath: "spec.volumes[1].projected.sources[3].configMap.items[0].path", wantSev: Error, wantMsg: "more than one file"},
		{name: "projected serviceAccountToken", marker: "#SOURCE", line: "      - serviceAccountToken: {path: token}",
			wantPath: "spec.volumes[1].projected.sources[3].serviceAccountToken", wantSev: Unsupported, wantMsg: "no service accounts"},
		{name: "projected clusterTrustBundle", marker: "#SOURCE", line: "      - clusterTrustBundle: {path: ca.pem, name: x}",
			wantPath: "spec.volumes[1].projected.sources[3].clusterTrustBundle", wantSev: Unsupported, wantMsg: "trust bundles"},
		{name: "projected two kinds in one source", marker: "#SOURCE", line: "      - {configMap: {name: cm1}, secret: {name: s1}}",
			wantPath: "spec.volumes[1].projected.sources[3]", wantSev: Error, wantMsg: "exactly one of configMap, secret or downwardAPI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := downwardPod
			if tt.marker != "" {
				if !strings.Contains(doc, tt.marker) {
					t.Fatalf("no marker %q", tt.marker)
				}
				doc = strings.Replace(doc, tt.marker, tt.line, 1)
			}
			ps := Parse("pod.yaml", []byte(doc)).Problems()
			if tt.wantPath == "" {
				if len(ps) != 0 {
					t.Fatalf("problems: %v", ps)
				}
				return
			}
			for _, p := range ps {
				if p.Path == tt.wantPath && p.Severity == tt.wantSev && strings.Contains(p.Message, tt.wantMsg) {
					return
				}
			}
			t.Errorf("got %v\nwant a %v at %s containing %q", ps, tt.wantSev, tt.wantPath, tt.wantMsg)
		})
	}
}
