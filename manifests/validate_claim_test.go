package manifests

import (
	"strings"
	"testing"
)

// TestValidateClaim parses PersistentVolumeClaim documents: the fields berth
// acts on, the ones it refuses and the cluster-only ones it warns about.
func TestValidateClaim(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n"
	tests := []struct {
		name, spec string
		sev        Severity // of the first problem, when path is set
		path, msg  string
		once       bool
	}{
		{"minimal", "spec: {}\n", 0, "", "", false},
		{"statefulset shaped", "spec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n", Warning, "spec.resources.requests[storage]", "storage 1Gi is enforced only where", false},
		{"once pod", "spec:\n  accessModes: [ReadWriteOncePod]\n", 0, "", "", true},
		{"filesystem", "spec:\n  volumeMode: Filesystem\n", 0, "", "", false},
		{"block", "spec:\n  volumeMode: Block\n", Unsupported, "spec.volumeMode", "volumeMode Block is not supported yet", false},
		{"bad mode", "spec:\n  volumeMode: Raw\n", Error, "spec.volumeMode", "Raw", false},
		{"bad access mode", "spec:\n  accessModes: [ReadWriteSometimes]\n", Error, "spec.accessModes[0]", "ReadWriteSometimes", false},
		{"once pod combined", "spec:\n  accessModes: [ReadWriteOnce, ReadWriteOncePod]\n", Error, "spec.accessModes[1]", "may not be combined", true},
		{"cpu request", "spec:\n  resources:\n    requests:\n      cpu: 1\n", Error, "spec.resources.requests[cpu]", "request storage", false},
		{"zero storage", "spec:\n  resources:\n    requests:\n      storage: 0\n", Error, "spec.resources.requests[storage]", "greater than zero", false},
		{"limits", "spec:\n  resources:\n    limits:\n      storage: 1Gi\n", Unsupported, "spec.resources.limits", "not supported yet", false},
		{"selector", "spec:\n  selector:\n    matchLabels: {a: b}\n", Unsupported, "spec.selector", "not supported yet", false},
		{"data source", "spec:\n  dataSource:\n    kind: VolumeSnapshot\n    name: s\n", Unsupported, "spec.dataSource", "not supported yet", false},
		{"storage class", "spec:\n  storageClassName: local-path\n", Warning, "spec.storageClassName", "cluster's provisioner", false},
		{"status", "spec: {}\nstatus:\n  phase: Bound\n", Warning, "status", "status is ignored", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := Parse("claim.yaml", []byte(head+tt.spec))
			if len(f.Docs) != 1 || f.Docs[0].Claim == nil {
				t.Fatalf("want one claim document, got %+v", f.Docs)
			}
			d := f.Docs[0]
			if d.Claim.Spec.VolumeMode == "" {
				t.Errorf("volumeMode not defaulted")
			}
			if got := ClaimOncePod(d.Claim); got != tt.once {
				t.Errorf("ClaimOncePod = %v, want %v", got, tt.once)
			}
			if tt.path == "" {
				if len(d.Problems) != 0 {
					t.Fatalf("unexpected problems: %+v", d.Problems)
				}
				return
			}
			if len(d.Problems) == 0 {
				t.Fatalf("no problem, want %v at %s", tt.sev, tt.path)
			}
			p := d.Problems[0]
			if p.Severity != tt.sev || p.Path != tt.path || !strings.Contains(p.Message, tt.msg) {
				t.Errorf("got %v at %s: %q; want %v at %s containing %q", p.Severity, p.Path, p.Message, tt.sev, tt.path, tt.msg)
			}
		})
	}
}

// TestValidateClaimVolume checks a pod's persistentVolumeClaim volume.
func TestValidateClaimVolume(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ claim, err string }{
		{"data-web-0", ""},
		{"", "name is required"},
		{"Bad_Name", "Bad_Name"},
	} {
		y := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-0\nspec:\n  containers:\n  - name: c\n    image: demo\n" +
			"  volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: \"" + tt.claim + "\"\n      readOnly: true\n"
		d := Parse("pod.yaml", []byte(y)).Docs[0]
		var errs []string
		for _, p := range d.Problems {
			if p.Severity == Error || p.Severity == Unsupported {
				errs = append(errs, p.Path+": "+p.Message)
			}
		}
		switch {
		case tt.err == "" && len(errs) > 0:
			t.Errorf("claim %q: unexpected %v", tt.claim, errs)
		case tt.err != "" && (len(errs) == 0 || !strings.Contains(errs[0], "spec.volumes[0].persistentVolumeClaim.claimName") || !strings.Contains(errs[0], tt.err)):
			t.Errorf("claim %q: got %v, want an error at claimName containing %q", tt.claim, errs, tt.err)
		}
	}
}
