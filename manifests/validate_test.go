package manifests

import (
	"strings"
	"testing"
)

func TestNameRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(string) string
		ok    []string
		bad   []string
	}{
		{"DNS-1123 label", checkDNS1123Label,
			[]string{"a", "web-1", "0abc", strings.Repeat("a", 63)},
			[]string{"", "A", "a_b", "-a", "a-", "a.b", "é", "a\x00", strings.Repeat("a", 64)}},
		{"DNS-1123 subdomain", checkDNS1123Subdomain,
			[]string{"a", "a.b-c.d", strings.Repeat("a.", 126) + "a"},
			[]string{"", "a..b", ".a", "a.", "A.b", "a-.b", "a.-b", "a.b_c", strings.Repeat("a", 254)}},
		{"port name", checkPortName,
			[]string{"http", "web-8080", "a1", strings.Repeat("a", 15)},
			[]string{"8080", "-http", "http-", "h--p", "HTTP", "h_p", strings.Repeat("a", 16)}},
		{"qualified name", checkQualifiedName,
			[]string{"app", "app.kubernetes.io/name", "A_b.c-D", "x/y"},
			[]string{"", "/x", "x/", "-x", "x-", "Ex.com/x", "a/b/c", strings.Repeat("a", 64)}},
		{"label value", checkLabelValue,
			[]string{"", "v1", "a.b_c-d"},
			[]string{"-v", "a b", strings.Repeat("a", 64)}},
		{"config key", checkConfigKey,
			[]string{"a", ".hidden", "a.b_c-d", "A"},
			[]string{"", ".", "..", "..x", "a/b", "a b"}},
		{"env name", checkEnvName,
			[]string{"PATH", "a.b-c", "1X", "with space"},
			[]string{"", "A=B", "A\x00", "é", "tab\t"}},
	}
	for _, tt := range tests {
		for _, s := range tt.ok {
			if msg := tt.check(s); msg != "" {
				t.Errorf("%s %q rejected: %s", tt.name, s, msg)
			}
		}
		for _, s := range tt.bad {
			if tt.check(s) == "" {
				t.Errorf("%s %q accepted", tt.name, s)
			}
		}
	}
}

func TestNormalizeCapability(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"NET_ADMIN": "CAP_NET_ADMIN", "cap_net_admin": "CAP_NET_ADMIN", "CAP_SYS_ADMIN": "CAP_SYS_ADMIN",
		"all": "ALL", "checkpoint_restore": "CAP_CHECKPOINT_RESTORE", "ROOT": "", "CAP_": "", "": "",
	}
	for in, want := range tests {
		got, ok := NormalizeCapability(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeCapability(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"busybox":                         "Always",
		"busybox:latest":                  "Always",
		"busybox:1.36":                    "IfNotPresent",
		"registry:5000/busybox":           "Always",
		"registry:5000/busybox:1":         "IfNotPresent",
		"busybox@sha256:abc":              "IfNotPresent",
		"registry:5000/x:latest@sha256:a": "IfNotPresent",
	}
	for image, want := range tests {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("defaultPullPolicy(%q) = %q, want %q", image, got, want)
		}
	}
}

// goodPod is a valid pod built in code, without defaults.
func goodPod() *Pod {
	return &Pod{
		TypeMeta:   TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: PodSpec{
			Volumes: []Volume{{Name: "cfg", ConfigMap: &ConfigMapVolumeSource{Name: "cfg"}}},
			Containers: []Container{{
				Name: "app", Image: "nginx",
				Ports:        []ContainerPort{{ContainerPort: 80, HostPort: 8080}},
				VolumeMounts: []VolumeMount{{Name: "cfg", MountPath: "/etc/app"}},
				Resources: ResourceRequirements{
					Limits: map[string]Quantity{"memory": MustParseQuantity("128Mi")},
				},
			}},
		},
	}
}

func TestSetDefaults(t *testing.T) {
	t.Parallel()
	p := goodPod()
	p.Spec.Containers[0].Env = []EnvVar{{Name: "N", ValueFrom: &EnvVarSource{FieldRef: &ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	p.Spec.Volumes = append(p.Spec.Volumes, Volume{Name: "tools", Image: &ImageVolumeSource{Reference: "tools:1"}})
	SetDefaults(p)
	c := p.Spec.Containers[0]
	checks := map[string]bool{
		"namespace":                p.Namespace == "default",
		"restartPolicy":            p.Spec.RestartPolicy == "Always",
		"terminationGrace":         *p.Spec.TerminationGracePeriodSeconds == 30,
		"dnsPolicy":                p.Spec.DNSPolicy == "ClusterFirst",
		"imagePullPolicy":          c.ImagePullPolicy == "Always",
		"protocol":                 c.Ports[0].Protocol == "TCP",
		"terminationMessagePath":   c.TerminationMessagePath == "/dev/termination-log",
		"terminationMessagePolicy": c.TerminationMessagePolicy == "File",
		"fieldRef apiVersion":      c.Env[0].ValueFrom.FieldRef.APIVersion == "v1",
		"configMap defaultMode":    *p.Spec.Volumes[0].ConfigMap.DefaultMode == 0o644,
		"hostPort kept":            c.Ports[0].HostPort == 8080,
		"image volume pullPolicy":  p.Spec.Volumes[1].Image.PullPolicy == "IfNotPresent",
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("default %s not applied", name)
		}
	}
	before, _ := CanonicalSpec(p)
	SetDefaults(p)
	after, _ := CanonicalSpec(p)
	if string(before) != string(after) {
		t.Error("SetDefaults is not idempotent")
	}
}

func TestValidatePodBuiltInCode(t *testing.T) {
	t.Parallel()
	if ps := ValidatePod(goodPod()); len(ps) != 0 {
		t.Fatalf("good pod: %v", ps)
	}
	tests := []struct {
		name   string
		mutate func(*Pod)
		path   string
		sev    Severity
	}{
		{"long string", func(p *Pod) { p.Spec.Containers[0].Args = []string{strings.Repeat("x", maxStringLen+1)} }, "spec.containers[0].args[0]", Error},
		{"NUL in path", func(p *Pod) { p.Spec.Containers[0].WorkingDir = "/a\x00b" }, "spec.containers[0].workingDir", Error},
		{"huge annotations", func(p *Pod) { p.Annotations = map[string]string{"a": strings.Repeat("x", maxAnnotationsLen)} }, "metadata.annotations", Error},
		{"no name", func(p *Pod) { p.Name = "" }, "metadata.name", Error},
		{"probe without action", func(p *Pod) { p.Spec.Containers[0].LivenessProbe = &Probe{} }, "spec.containers[0].livenessProbe", Error},
		{"hugepages medium", func(p *Pod) {
			p.Spec.Volumes[0] = Volume{Name: "cfg", EmptyDir: &EmptyDirVolumeSource{Medium: "HugePages-2Mi"}}
		}, "spec.volumes[0].emptyDir.medium", Unsupported},
		{"negative size", func(p *Pod) {
			q := MustParseQuantity("-1")
			p.Spec.Volumes[0] = Volume{Name: "cfg", EmptyDir: &EmptyDirVolumeSource{SizeLimit: &q}}
		}, "spec.volumes[0].emptyDir.sizeLimit", Error},
		{"image volume without reference", func(p *Pod) {
			p.Spec.Volumes[0] = Volume{Name: "cfg", Image: &ImageVolumeSource{PullPolicy: "Never"}}
		}, "spec.volumes[0].image.reference", Error},
		{"image volume pull policy", func(p *Pod) {
			p.Spec.Volumes[0] = Volume{Name: "cfg", Image: &ImageVolumeSource{Reference: "tools:1", PullPolicy: "Sometimes"}}
		}, "spec.volumes[0].image.pullPolicy", Error},
		{"image and emptyDir", func(p *Pod) {
			p.Spec.Volumes[0] = Volume{Name: "cfg", EmptyDir: &EmptyDirVolumeSource{}, Image: &ImageVolumeSource{Reference: "tools:1"}}
		}, "spec.volumes[0].image", Error},
		{"init container unsupported field", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "init", Image: "x", SecurityContext: &SecurityContext{ProcMount: "Unmasked"}}}
		}, "spec.initContainers[0].securityContext.procMount", Unsupported},
		{"wildcard host port overlaps", func(p *Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, ContainerPort{ContainerPort: 81, HostPort: 8080, HostIP: "::"})
		}, "spec.containers[0].ports[1].hostPort", Error},
	}
	for _, tt := range tests {
		p := goodPod()
		tt.mutate(p)
		ps := ValidatePod(p)
		if len(ps) != 1 || ps[0].Path != tt.path || ps[0].Severity != tt.sev {
			t.Errorf("%s: got %v, want one %v at %s", tt.name, ps, tt.sev, tt.path)
		}
	}
}

func TestReferences(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "v02-full.yaml")
	p := f.Docs[0].Pod
	if got := ReferencedConfigMaps(p); strings.Join(got, ",") != "full-config" {
		t.Errorf("ReferencedConfigMaps = %v", got)
	}
	if got := ReferencedSecrets(p); len(got) != 0 {
		t.Errorf("ReferencedSecrets = %v, want none (all optional)", got)
	}
	refs := References(p)
	want := []Reference{
		{"ConfigMap", "full-config", "spec.volumes[2].configMap.name", false},
		{"Secret", "full-secret", "spec.volumes[3].secret.secretName", true},
		{"ConfigMap", "full-config", "spec.containers[0].envFrom[0].configMapRef.name", false},
		{"ConfigMap", "full-config", "spec.containers[0].env[2].valueFrom.configMapKeyRef.name", false},
		{"Secret", "full-secret", "spec.containers[0].env[3].valueFrom.secretKeyRef.name", true},
	}
	if len(refs) != len(want) {
		t.Fatalf("References = %+v", refs)
	}
	for i := range want {
		if refs[i] != want[i] {
			t.Errorf("reference %d = %+v, want %+v", i, refs[i], want[i])
		}
		if f.Docs[0].LineOf(refs[i].Path) == 0 {
			t.Errorf("reference path %s has no line", refs[i].Path)
		}
	}
	m := mustParse(t, "v03-multi.yaml").Docs[2].Pod
	if got := ReferencedSecrets(m); strings.Join(got, ",") != "app-secret" {
		t.Errorf("ReferencedSecrets = %v", got)
	}
}

func TestSpecEqual(t *testing.T) {
	t.Parallel()
	base := goodPod()
	tests := []struct {
		name   string
		mutate func(*Pod)
		equal  bool
	}{
		{"identical", func(*Pod) {}, true},
		{"labels only", func(p *Pod) {
			p.Labels = map[string]string{"app": "other"}
			p.Annotations = map[string]string{"a": "b"}
		}, true},
		{"defaults written out", func(p *Pod) { SetDefaults(p) }, true},
		{"empty list vs none", func(p *Pod) { p.Spec.InitContainers = []Container{} }, true},
		{"image", func(p *Pod) { p.Spec.Containers[0].Image = "nginx:2" }, false},
		{"limit", func(p *Pod) { p.Spec.Containers[0].Resources.Limits["memory"] = MustParseQuantity("256Mi") }, false},
		{"env added", func(p *Pod) { p.Spec.Containers[0].Env = []EnvVar{{Name: "A"}} }, false},
		{"restart policy", func(p *Pod) { p.Spec.RestartPolicy = "Never" }, false},
	}
	for _, tt := range tests {
		p := goodPod()
		tt.mutate(p)
		if got := SpecEqual(base, p); got != tt.equal {
			t.Errorf("%s: SpecEqual = %v, want %v", tt.name, got, tt.equal)
		}
		a, err1 := CanonicalSpec(base)
		b, err2 := CanonicalSpec(p)
		if err1 != nil || err2 != nil || (string(a) == string(b)) != tt.equal {
			t.Errorf("%s: CanonicalSpec equal = %v, want %v (%v %v)", tt.name, string(a) == string(b), tt.equal, err1, err2)
		}
	}
	if base.Spec.RestartPolicy != "" {
		t.Error("CanonicalSpec or SpecEqual changed its argument")
	}
}

// TestVolumeMountDestinations pins which mount destinations are refused,
// with runc as the reference: the root and /proc (at or inside, after
// cleaning) are; /sys and /dev, which real manifests use, are not.
func TestVolumeMountDestinations(t *testing.T) {
	t.Parallel()
	const field = "spec.containers[0].volumeMounts[1].mountPath"
	tests := []struct {
		mountPath string
		wantMsg   string // "" when accepted
	}{
		{"/proc", "is inside /proc"},
		{"/proc/", "is inside /proc"},
		{"//proc", "is inside /proc"},
		{"/./proc", "is inside /proc"},
		{"/proc/sys/kernel", "is inside /proc"},
		{"/proc/meminfo", "is inside /proc"},
		{"/proc//self/", "is inside /proc"},
		{"/proc/../proc/x", "must not contain '..'"},
		{"/", "is the container's root"},
		{"//", "is the container's root"},
		{"/procfs", ""},
		{"/data/proc", ""},
		{"/host/proc", ""},
		{"/dev/shm", ""},
		{"/dev", ""},
		{"/dev/fuse", ""},
		{"/sys", ""},
		{"/sys/fs/cgroup", ""},
		{"/run/secrets", ""},
	}
	for _, tt := range tests {
		p := goodPod()
		c := &p.Spec.Containers[0]
		c.VolumeMounts = append(c.VolumeMounts, VolumeMount{Name: "cfg", MountPath: tt.mountPath})
		ps := ValidatePod(p)
		if tt.wantMsg == "" {
			if len(ps) != 0 {
				t.Errorf("mountPath %q refused: %v", tt.mountPath, ps)
			}
			continue
		}
		if len(ps) != 1 || ps[0].Path != field || ps[0].Severity != Error || !strings.Contains(ps[0].Message, tt.wantMsg) {
			t.Errorf("mountPath %q: got %v, want one error at %s containing %q", tt.mountPath, ps, field, tt.wantMsg)
		}
	}
	p := goodPod()
	p.Spec.InitContainers = []Container{{Name: "init", Image: "x", VolumeMounts: []VolumeMount{{Name: "cfg", MountPath: "/proc/1/root"}}}}
	if ps := ValidatePod(p); len(ps) != 1 || ps[0].Path != "spec.initContainers[0].volumeMounts[0].mountPath" {
		t.Errorf("init container mount inside /proc: got %v", ps)
	}
}

// TestVolumeMountDuplicatesAfterCleaning checks that two spellings of one
// target are one target.
func TestVolumeMountDuplicatesAfterCleaning(t *testing.T) {
	t.Parallel()
	p := goodPod()
	c := &p.Spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, VolumeMount{Name: "cfg", MountPath: "//etc/./app/"})
	ps := ValidatePod(p)
	if len(ps) != 1 || ps[0].Path != "spec.containers[0].volumeMounts[1].mountPath" || !strings.Contains(ps[0].Message, "more than one volumeMount") {
		t.Errorf("got %v, want a duplicate target", ps)
	}
}
