package manifests

// The types below mirror the Kubernetes core/v1 API (field names and JSON
// tags are Kubernetes'), restricted to what berth parses. Any field not
// declared here is rejected by the strict decoder unless it is listed as
// cluster-only (accepted with a warning).

// TypeMeta is the apiVersion/kind header of every document.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// ObjectMeta is the subset of Kubernetes object metadata berth uses.
type ObjectMeta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// UID is berth's own pod uid in what the API reports; one written in
	// a manifest is ignored with a warning.
	UID         string            `json:"uid,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Pod is a v1 Pod document.
type Pod struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       PodSpec `json:"spec"`
}

// ConfigMap is a v1 ConfigMap document.
type ConfigMap struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string][]byte `json:"binaryData,omitempty"`
}

// Secret is a v1 Secret document. Data values are base64 in YAML and
// decoded here; StringData is merged into Data by the parser.
type Secret struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Type       string            `json:"type,omitempty"`
	Data       map[string][]byte `json:"data,omitempty"`
	StringData map[string]string `json:"stringData,omitempty"`
}

// PersistentVolumeClaim is a v1 PersistentVolumeClaim document: a claim on
// a local volume of this node, by name.
type PersistentVolumeClaim struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       PersistentVolumeClaimSpec `json:"spec"`
}

// PersistentVolumeClaimSpec is the subset of the v1 claim spec berth reads.
type PersistentVolumeClaimSpec struct {
	AccessModes      []string                   `json:"accessModes,omitempty"`
	Resources        VolumeResourceRequirements `json:"resources,omitempty"`
	VolumeMode       string                     `json:"volumeMode,omitempty"`
	StorageClassName *string                    `json:"storageClassName,omitempty"`
}

// VolumeResourceRequirements is a claim's size request.
type VolumeResourceRequirements struct {
	Requests map[string]Quantity `json:"requests,omitempty"`
}

// PodSpec is the subset of v1 PodSpec berth parses.
type PodSpec struct {
	Volumes                       []Volume            `json:"volumes,omitempty"`
	InitContainers                []Container         `json:"initContainers,omitempty"`
	Containers                    []Container         `json:"containers"`
	RestartPolicy                 string              `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64              `json:"terminationGracePeriodSeconds,omitempty"`
	ActiveDeadlineSeconds         *int64              `json:"activeDeadlineSeconds,omitempty"`
	DNSPolicy                     string              `json:"dnsPolicy,omitempty"`
	DNSConfig                     *PodDNSConfig       `json:"dnsConfig,omitempty"`
	HostNetwork                   bool                `json:"hostNetwork,omitempty"`
	HostPID                       bool                `json:"hostPID,omitempty"`
	HostIPC                       bool                `json:"hostIPC,omitempty"`
	ShareProcessNamespace         *bool               `json:"shareProcessNamespace,omitempty"`
	SecurityContext               *PodSecurityContext `json:"securityContext,omitempty"`
	Hostname                      string              `json:"hostname,omitempty"`
	Subdomain                     string              `json:"subdomain,omitempty"`
	HostAliases                   []HostAlias         `json:"hostAliases,omitempty"`
	// ImagePullSecrets name kubernetes.io/dockerconfigjson or
	// kubernetes.io/dockercfg Secrets whose credentials pull the pod's
	// images.
	ImagePullSecrets []LocalObjectReference `json:"imagePullSecrets,omitempty"`
	OS               *PodOS                 `json:"os,omitempty"`
}

// LocalObjectReference names an object in the pod's namespace.
type LocalObjectReference struct {
	Name string `json:"name,omitempty"`
}

// PodOS names the operating system the pod's containers need.
type PodOS struct {
	Name string `json:"name"`
}

// Container is a v1 Container (used for containers and initContainers).
type Container struct {
	Name            string                  `json:"name"`
	Image           string                  `json:"image"`
	ImagePullPolicy string                  `json:"imagePullPolicy,omitempty"`
	Command         []string                `json:"command,omitempty"`
	Args            []string                `json:"args,omitempty"`
	WorkingDir      string                  `json:"workingDir,omitempty"`
	Ports           []ContainerPort         `json:"ports,omitempty"`
	EnvFrom         []EnvFromSource         `json:"envFrom,omitempty"`
	Env             []EnvVar                `json:"env,omitempty"`
	Resources       ResourceRequirements    `json:"resources,omitempty"`
	ResizePolicy    []ContainerResizePolicy `json:"resizePolicy,omitempty"`
	VolumeMounts    []VolumeMount           `json:"volumeMounts,omitempty"`
	LivenessProbe   *Probe                  `json:"livenessProbe,omitempty"`
	ReadinessProbe  *Probe                  `json:"readinessProbe,omitempty"`
	StartupProbe    *Probe                  `json:"startupProbe,omitempty"`
	Lifecycle       *Lifecycle              `json:"lifecycle,omitempty"`
	// RestartPolicy, only "Always" and only on an init container, makes
	// it a sidecar (IsSidecar).
	RestartPolicy            *string          `json:"restartPolicy,omitempty"`
	TerminationMessagePath   string           `json:"terminationMessagePath,omitempty"`
	TerminationMessagePolicy string           `json:"terminationMessagePolicy,omitempty"`
	SecurityContext          *SecurityContext `json:"securityContext,omitempty"`
	Stdin                    bool             `json:"stdin,omitempty"`
	StdinOnce                bool             `json:"stdinOnce,omitempty"`
	TTY                      bool             `json:"tty,omitempty"`
}

// ContainerPort is a port a container exposes, optionally on the host.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	HostPort      int32  `json:"hostPort,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
}

// EnvVar is one environment variable, literal or from a source.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource selects where an EnvVar's value comes from.
type EnvVarSource struct {
	FieldRef         *ObjectFieldSelector   `json:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`
	ConfigMapKeyRef  *KeySelector           `json:"configMapKeyRef,omitempty"`
	SecretKeyRef     *KeySelector           `json:"secretKeyRef,omitempty"`
}

// ObjectFieldSelector selects a field of the pod (metadata.name, ...).
type ObjectFieldSelector struct {
	APIVersion string `json:"apiVersion,omitempty"`
	FieldPath  string `json:"fieldPath"`
}

// ResourceFieldSelector selects a container resource (limits.memory, ...).
type ResourceFieldSelector struct {
	ContainerName string    `json:"containerName,omitempty"`
	Resource      string    `json:"resource"`
	Divisor       *Quantity `json:"divisor,omitempty"`
}

// KeySelector selects one key of a ConfigMap or Secret.
type KeySelector struct {
	Name     string `json:"name"`
	Key      string `json:"key"`
	Optional *bool  `json:"optional,omitempty"`
}

// EnvFromSource imports every key of a ConfigMap or Secret.
type EnvFromSource struct {
	Prefix       string          `json:"prefix,omitempty"`
	ConfigMapRef *LocalObjectRef `json:"configMapRef,omitempty"`
	SecretRef    *LocalObjectRef `json:"secretRef,omitempty"`
}

// LocalObjectRef names an object in the pod's namespace.
type LocalObjectRef struct {
	Name     string `json:"name"`
	Optional *bool  `json:"optional,omitempty"`
}

// ResourceRequirements holds requests and limits by resource name
// ("cpu", "memory", "ephemeral-storage", ...).
type ResourceRequirements struct {
	Limits   map[string]Quantity `json:"limits,omitempty"`
	Requests map[string]Quantity `json:"requests,omitempty"`
}

// ContainerResizePolicy says whether changing one resource of a running
// container needs its restart: NotRequired (the default for a resource
// not listed) or RestartContainer.
type ContainerResizePolicy struct {
	ResourceName  string `json:"resourceName"`
	RestartPolicy string `json:"restartPolicy"`
}

// VolumeMount mounts a pod volume into a container.
type VolumeMount struct {
	Name             string `json:"name"`
	ReadOnly         bool   `json:"readOnly,omitempty"`
	MountPath        string `json:"mountPath"`
	SubPath          string `json:"subPath,omitempty"`
	SubPathExpr      string `json:"subPathExpr,omitempty"`
	MountPropagation string `json:"mountPropagation,omitempty"`
}

// Volume is a pod volume; exactly one source is set.
type Volume struct {
	Name      string                 `json:"name"`
	EmptyDir  *EmptyDirVolumeSource  `json:"emptyDir,omitempty"`
	HostPath  *HostPathVolumeSource  `json:"hostPath,omitempty"`
	ConfigMap *ConfigMapVolumeSource `json:"configMap,omitempty"`
	Secret    *SecretVolumeSource    `json:"secret,omitempty"`
	// PersistentVolumeClaim is a claim on a named local volume under the
	// state directory that outlives the pod.
	PersistentVolumeClaim *PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
	// DownwardAPI and Projected volumes.
	DownwardAPI *DownwardAPIVolumeSource `json:"downwardAPI,omitempty"`
	Projected   *ProjectedVolumeSource   `json:"projected,omitempty"`
	// Image mounts an image's files read-only (Kubernetes 1.31+).
	Image *ImageVolumeSource `json:"image,omitempty"`
}

// ImageVolumeSource is an image from the local store, or pulled by its
// pullPolicy as a container's image is, whose layers the volume shows
// read-only.
type ImageVolumeSource struct {
	Reference  string `json:"reference,omitempty"`
	PullPolicy string `json:"pullPolicy,omitempty"`
}

// PersistentVolumeClaimVolumeSource mounts the volume of a claim.
type PersistentVolumeClaimVolumeSource struct {
	ClaimName string `json:"claimName"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// DownwardAPIVolumeSource projects fields of the pod and resources of its
// containers as files.
type DownwardAPIVolumeSource struct {
	Items       []DownwardAPIVolumeFile `json:"items,omitempty"`
	DefaultMode *int32                  `json:"defaultMode,omitempty"`
}

// DownwardAPIVolumeFile is one file of a downwardAPI volume or projection:
// exactly one of FieldRef and ResourceFieldRef is set.
type DownwardAPIVolumeFile struct {
	Path             string                 `json:"path"`
	FieldRef         *ObjectFieldSelector   `json:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`
	Mode             *int32                 `json:"mode,omitempty"`
}

// ProjectedVolumeSource merges several sources into one volume.
type ProjectedVolumeSource struct {
	Sources     []VolumeProjection `json:"sources"`
	DefaultMode *int32             `json:"defaultMode,omitempty"`
}

// VolumeProjection is one source of a projected volume; exactly one is set.
type VolumeProjection struct {
	ConfigMap   *ConfigMapProjection   `json:"configMap,omitempty"`
	Secret      *SecretProjection      `json:"secret,omitempty"`
	DownwardAPI *DownwardAPIProjection `json:"downwardAPI,omitempty"`
}

// ConfigMapProjection is a ConfigMap's keys in a projected volume.
type ConfigMapProjection struct {
	Name     string      `json:"name"`
	Items    []KeyToPath `json:"items,omitempty"`
	Optional *bool       `json:"optional,omitempty"`
}

// SecretProjection is a Secret's keys in a projected volume.
type SecretProjection struct {
	Name     string      `json:"name"`
	Items    []KeyToPath `json:"items,omitempty"`
	Optional *bool       `json:"optional,omitempty"`
}

// DownwardAPIProjection is pod fields in a projected volume.
type DownwardAPIProjection struct {
	Items []DownwardAPIVolumeFile `json:"items,omitempty"`
}

// EmptyDirVolumeSource is a scratch directory (disk or tmpfs).
type EmptyDirVolumeSource struct {
	Medium    string    `json:"medium,omitempty"`
	SizeLimit *Quantity `json:"sizeLimit,omitempty"`
}

// HostPathVolumeSource is a path on the host with an optional type check.
type HostPathVolumeSource struct {
	Path string `json:"path"`
	Type string `json:"type,omitempty"`
}

// KeyToPath projects one key to a relative file path.
type KeyToPath struct {
	Key  string `json:"key"`
	Path string `json:"path"`
	Mode *int32 `json:"mode,omitempty"`
}

// ConfigMapVolumeSource projects a ConfigMap's keys as files.
type ConfigMapVolumeSource struct {
	Name        string      `json:"name"`
	Items       []KeyToPath `json:"items,omitempty"`
	DefaultMode *int32      `json:"defaultMode,omitempty"`
	Optional    *bool       `json:"optional,omitempty"`
}

// SecretVolumeSource projects a Secret's keys as files.
type SecretVolumeSource struct {
	SecretName  string      `json:"secretName"`
	Items       []KeyToPath `json:"items,omitempty"`
	DefaultMode *int32      `json:"defaultMode,omitempty"`
	Optional    *bool       `json:"optional,omitempty"`
}

// Probe is a liveness/readiness/startup probe.
type Probe struct {
	ProbeHandler                  `json:",inline"`
	InitialDelaySeconds           int32  `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds                int32  `json:"timeoutSeconds,omitempty"`
	PeriodSeconds                 int32  `json:"periodSeconds,omitempty"`
	SuccessThreshold              int32  `json:"successThreshold,omitempty"`
	FailureThreshold              int32  `json:"failureThreshold,omitempty"`
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// ProbeHandler is the action of a probe or lifecycle hook; one is set.
type ProbeHandler struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	GRPC      *GRPCAction      `json:"grpc,omitempty"`
}

// ExecAction runs a command in the container.
type ExecAction struct {
	Command []string `json:"command,omitempty"`
}

// HTTPGetAction performs an HTTP GET.
type HTTPGetAction struct {
	Path        string       `json:"path,omitempty"`
	Port        IntOrString  `json:"port"`
	Host        string       `json:"host,omitempty"`
	Scheme      string       `json:"scheme,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is one header of an HTTP probe.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction opens a TCP connection.
type TCPSocketAction struct {
	Port IntOrString `json:"port"`
	Host string      `json:"host,omitempty"`
}

// GRPCAction calls the gRPC health service.
type GRPCAction struct {
	Port    int32   `json:"port"`
	Service *string `json:"service,omitempty"`
}

// Lifecycle holds postStart/preStop hooks and the stop signal.
type Lifecycle struct {
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	PreStop   *LifecycleHandler `json:"preStop,omitempty"`
	// StopSignal is the signal that stops the container ("SIGUSR1"),
	// instead of the image's STOPSIGNAL or SIGTERM (Kubernetes 1.33).
	StopSignal *string `json:"stopSignal,omitempty"`
}

// LifecycleHandler is a hook action.
type LifecycleHandler struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	Sleep     *SleepAction     `json:"sleep,omitempty"`
}

// SleepAction pauses for a number of seconds.
type SleepAction struct {
	Seconds int64 `json:"seconds"`
}

// SecurityContext is the container-level security context.
type SecurityContext struct {
	Capabilities             *Capabilities   `json:"capabilities,omitempty"`
	Privileged               *bool           `json:"privileged,omitempty"`
	SELinuxOptions           *SELinuxOptions `json:"seLinuxOptions,omitempty"`
	RunAsUser                *int64          `json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool           `json:"runAsNonRoot,omitempty"`
	ReadOnlyRootFilesystem   *bool           `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool           `json:"allowPrivilegeEscalation,omitempty"`
	ProcMount                string          `json:"procMount,omitempty"`
	SeccompProfile           *SeccompProfile `json:"seccompProfile,omitempty"`

	AppArmorProfile *AppArmorProfile `json:"appArmorProfile,omitempty"`
}

// PodSecurityContext is the pod-level security context.
type PodSecurityContext struct {
	SELinuxOptions      *SELinuxOptions `json:"seLinuxOptions,omitempty"`
	RunAsUser           *int64          `json:"runAsUser,omitempty"`
	RunAsGroup          *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot        *bool           `json:"runAsNonRoot,omitempty"`
	SupplementalGroups  []int64         `json:"supplementalGroups,omitempty"`
	FSGroup             *int64          `json:"fsGroup,omitempty"`
	FSGroupChangePolicy string          `json:"fsGroupChangePolicy,omitempty"`
	Sysctls             []Sysctl        `json:"sysctls,omitempty"`
	SeccompProfile      *SeccompProfile `json:"seccompProfile,omitempty"`

	AppArmorProfile *AppArmorProfile `json:"appArmorProfile,omitempty"`
}

// Capabilities adds and drops Linux capabilities (names without CAP_).
type Capabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

// SELinuxOptions are SELinux labels.
type SELinuxOptions struct {
	User  string `json:"user,omitempty"`
	Role  string `json:"role,omitempty"`
	Type  string `json:"type,omitempty"`
	Level string `json:"level,omitempty"`
}

// SeccompProfile selects a seccomp profile.
type SeccompProfile struct {
	Type             string  `json:"type"`
	LocalhostProfile *string `json:"localhostProfile,omitempty"`
}

// AppArmorProfile selects an AppArmor profile. berth loads no AppArmor
// profiles, so Unconfined is the only type it gives.
type AppArmorProfile struct {
	Type             string  `json:"type"`
	LocalhostProfile *string `json:"localhostProfile,omitempty"`
}

// Sysctl is one namespaced sysctl.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PodDNSConfig customises the pod's resolv.conf.
type PodDNSConfig struct {
	Nameservers []string             `json:"nameservers,omitempty"`
	Searches    []string             `json:"searches,omitempty"`
	Options     []PodDNSConfigOption `json:"options,omitempty"`
}

// PodDNSConfigOption is one resolv.conf option.
type PodDNSConfigOption struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// HostAlias adds entries to the pod's /etc/hosts.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames,omitempty"`
}
