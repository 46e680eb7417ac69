package manifests

// implemented lists every field of types.go that berth implements, by the
// Go type that declares it and its JSON name ("Container.image"), with the
// test that proves it works: "TestName (dir/file_test.go)", relative to the
// repository root. TestEveryFieldIsClassified checks that each named test
// exists. A field support.go refuses for some values only (procMount
// Unmasked, protocol SCTP, ...) is listed here for the values it accepts.
//
// To implement a field: make it work, prove it with a test, add its row
// here, and take its row out of support.go's unsupported table.
var implemented = map[string]string{
	// Every document.
	"Pod.apiVersion":         "TestCorpus (manifests/corpus_test.go)",
	"Pod.kind":               "TestCorpus (manifests/corpus_test.go)",
	"ConfigMap.apiVersion":   "TestCorpus (manifests/corpus_test.go)",
	"ConfigMap.kind":         "TestCorpus (manifests/corpus_test.go)",
	"Secret.apiVersion":      "TestCorpus (manifests/corpus_test.go)",
	"Secret.kind":            "TestCorpus (manifests/corpus_test.go)",
	"ObjectMeta.name":        "TestLongPodName (e2e/lifecycle_test.go)",
	"ObjectMeta.namespace":   "TestExamplesRun (e2e/examples_test.go)",
	"ObjectMeta.labels":      "TestEditReplacesLabelsDoNotAndDeleteCleansUp (e2e/lifecycle_test.go)",
	"ObjectMeta.annotations": "TestBuildEnv (pod/env_test.go)",

	// ConfigMap and Secret.
	"ConfigMap.data":       "TestConfigMapAndSecretVolumesFollowTheirDocuments (e2e/config_test.go)",
	"ConfigMap.binaryData": "TestConfigMapPayload (volumes/projection_test.go)",
	// A kubelet does nothing with a type; the API server checks a built-in
	// type's keys, and so does validation.
	"Secret.type":       "TestCorpus (manifests/corpus_test.go)",
	"Secret.data":       "TestSecretVolume (volumes/prepare_linux_test.go)",
	"Secret.stringData": "TestInitContainersConfigMapsSecretsAndEnv (e2e/config_test.go)",

	// Pod spec.
	"PodSpec.restartPolicy":                 "TestRestartPolicies (e2e/lifecycle_test.go)",
	"PodSpec.terminationGracePeriodSeconds": "TestInfraNeverAndGrace (infra/infra_linux_test.go)",
	"PodSpec.activeDeadlineSeconds":         "TestActiveDeadlineSeconds (e2e/sidecar_test.go)",
	"PodOS.name":                            "TestDownwardResourceFieldRefEnv (e2e/downward_test.go)",
	"PodSpec.dnsPolicy":                     "TestHostsAndResolvConf (e2e/dns_test.go)",
	"PodDNSConfig.nameservers":              "TestHostsAndResolvConf (e2e/dns_test.go)",
	"PodDNSConfig.searches":                 "TestHostsAndResolvConf (e2e/dns_test.go)",
	"PodDNSConfigOption.name":               "TestHostsAndResolvConf (e2e/dns_test.go)",
	"PodDNSConfigOption.value":              "TestHostsAndResolvConf (e2e/dns_test.go)",
	"PodSpec.hostNetwork":                   "TestNetHostNetworkPodUsesHostNamespace (e2e/network_test.go)",
	"PodSpec.hostPID":                       "TestHostNamespacesWhenAsked (e2e/pod_test.go)",
	"PodSpec.hostIPC":                       "TestHostNamespacesWhenAsked (e2e/pod_test.go)",
	"PodSpec.shareProcessNamespace":         "TestSharedProcessNamespace (e2e/lifecycle_test.go)",
	"PodSpec.hostname":                      "TestHostsAndResolvConf (e2e/dns_test.go)",
	"PodSpec.subdomain":                     "TestHostsAndResolvConf (e2e/dns_test.go)",
	"LocalObjectReference.name":             "TestDaemonPullsWithImagePullSecret (e2e/pull_test.go)",
	"HostAlias.ip":                          "TestHostsAndResolvConf (e2e/dns_test.go)",
	"HostAlias.hostnames":                   "TestHostsAndResolvConf (e2e/dns_test.go)",
	"PodSecurityContext.runAsUser":          "TestRunAsNonRootUser (e2e/pod_test.go)",
	"PodSecurityContext.runAsGroup":         "TestRunAsNonRootUser (e2e/pod_test.go)",
	"PodSecurityContext.runAsNonRoot":       "TestRunAsNonRootUser (e2e/pod_test.go)",
	"PodSecurityContext.supplementalGroups": "TestPodSecurityContextGroups (e2e/secctx_test.go)",

	// Volumes.
	"Volume.name":                       "TestTwoContainerPodSharesNamespacesAndEmptyDir (e2e/pod_test.go)",
	"EmptyDirVolumeSource.medium":       "TestMemoryEmptyDir (volumes/prepare_linux_test.go)",
	"EmptyDirVolumeSource.sizeLimit":    "TestMemoryEmptyDir (volumes/prepare_linux_test.go)",
	"HostPathVolumeSource.path":         "TestPrepareHostPathAndErrors (volumes/prepare_linux_test.go)",
	"HostPathVolumeSource.type":         "TestEnsureHostPathTypes (volumes/hostpath_test.go)",
	"ConfigMapVolumeSource.name":        "TestConfigMapAndSecretVolumesFollowTheirDocuments (e2e/config_test.go)",
	"ConfigMapVolumeSource.defaultMode": "TestConfigMapPayload (volumes/projection_test.go)",
	"ConfigMapVolumeSource.optional":    "TestConfigMapPayload (volumes/projection_test.go)",
	"SecretVolumeSource.secretName":     "TestConfigMapAndSecretVolumesFollowTheirDocuments (e2e/config_test.go)",
	"SecretVolumeSource.defaultMode":    "TestSecretVolume (volumes/prepare_linux_test.go)",
	"SecretVolumeSource.optional":       "TestSecretPayload (volumes/projection_test.go)",
	"KeyToPath.key":                     "TestInitContainersConfigMapsSecretsAndEnv (e2e/config_test.go)",
	"KeyToPath.path":                    "TestInitContainersConfigMapsSecretsAndEnv (e2e/config_test.go)",
	"KeyToPath.mode":                    "TestConfigMapPayload (volumes/projection_test.go)",
	// downwardAPI and projected volumes.
	"DownwardAPIVolumeSource.defaultMode": "TestDownwardAPIPayload (volumes/downward_test.go)",
	"DownwardAPIVolumeFile.path":          "TestDownwardAPILabelsFollowEdits (e2e/downward_test.go)",
	"DownwardAPIVolumeFile.mode":          "TestDownwardAPIPayload (volumes/downward_test.go)",
	"ProjectedVolumeSource.defaultMode":   "TestProjectedVolumeCombinesSources (e2e/downward_test.go)",
	"ConfigMapProjection.name":            "TestProjectedVolumeCombinesSources (e2e/downward_test.go)",
	"ConfigMapProjection.optional":        "TestProjectedPayload (volumes/downward_test.go)",
	"SecretProjection.name":               "TestProjectedVolumeCombinesSources (e2e/downward_test.go)",
	"SecretProjection.optional":           "TestProjectedPayload (volumes/downward_test.go)",
	"ImageVolumeSource.reference":         "TestImageVolume (e2e/imagevolume_test.go)",
	"ImageVolumeSource.pullPolicy":        "TestImageVolumeNeverPulled (pod/imagevolume_test.go)",

	// Probes: run by the daemon (pod/probes.go, package probe).
	"Probe.initialDelaySeconds":           "TestState (probe/state_test.go)",
	"Probe.timeoutSeconds":                "TestProbeTCPGRPCExec (e2e/probe_test.go)",
	"Probe.periodSeconds":                 "TestState (probe/state_test.go)",
	"Probe.successThreshold":              "TestState (probe/state_test.go)",
	"Probe.failureThreshold":              "TestProbeLivenessRestarts (e2e/probe_test.go)",
	"Probe.terminationGracePeriodSeconds": "TestProberReports (pod/probes_test.go)",
	"ExecAction.command":                  "TestProbeTCPGRPCExec (e2e/probe_test.go)",
	"HTTPGetAction.path":                  "TestProbeLivenessRestarts (e2e/probe_test.go)",
	"HTTPGetAction.port":                  "TestProbeLivenessRestarts (e2e/probe_test.go)",
	"HTTPGetAction.host":                  "TestProbeHostLoopbackIsNotThePods (e2e/probe_test.go)",
	"HTTPGetAction.scheme":                "TestHTTPCheckerHTTPSSelfSigned (probe/http_test.go)",
	"HTTPHeader.name":                     "TestHTTPCheckerHeaders (probe/http_test.go)",
	"HTTPHeader.value":                    "TestHTTPCheckerHeaders (probe/http_test.go)",
	"TCPSocketAction.port":                "TestProbeTCPGRPCExec (e2e/probe_test.go)",
	"TCPSocketAction.host":                "TestTCPChecker (probe/http_test.go)",
	"GRPCAction.port":                     "TestProbeTCPGRPCExec (e2e/probe_test.go)",
	"GRPCAction.service":                  "TestGRPCChecker (probe/grpc_test.go)",

	// Lifecycle hooks: run by the daemon (pod/hooks.go), the stop signal by
	// the infra; exec and httpGet hooks share the probes' action types.
	"Lifecycle.stopSignal": "TestLifecycleStopSignal (e2e/hooks_test.go)",
	"SleepAction.seconds":  "TestLifecycleHTTPGetAndSleepHooks (e2e/hooks_test.go)",
	// PersistentVolumeClaim documents and persistentVolumeClaim volumes.
	"PersistentVolumeClaim.apiVersion":            "TestValidateClaim (manifests/validate_claim_test.go)",
	"PersistentVolumeClaim.kind":                  "TestValidateClaim (manifests/validate_claim_test.go)",
	"PersistentVolumeClaimVolumeSource.claimName": "TestPVCDataOutlivesPod (e2e/pvc_test.go)",
	"PersistentVolumeClaimVolumeSource.readOnly":  "TestClaimMounts (volumes/claim_test.go)",
	"PersistentVolumeClaimSpec.accessModes":       "TestClaimAccessModes (pod/claims_test.go)",
	"PersistentVolumeClaimSpec.volumeMode":        "TestValidateClaim (manifests/validate_claim_test.go)",

	// Containers and init containers.
	"Container.name":                           "TestLogsNeedContainerName (e2e/logs_test.go)",
	"Container.image":                          "TestImageNotFoundEvent (e2e/ops_test.go)",
	"Container.imagePullPolicy":                "TestDaemonPullsMissingImageWithoutHoldingOthers (e2e/pull_test.go)",
	"Container.restartPolicy":                  "TestSidecarOutlivesRestartsAndStopsLast (e2e/sidecar_test.go)",
	"Container.command":                        "TestArgs (pod/plan_test.go)",
	"Container.args":                           "TestArgs (pod/plan_test.go)",
	"Container.workingDir":                     "TestContainerConfigWorkingDir (pod/plan_test.go)",
	"Container.terminationMessagePath":         "TestTerminationMessages (e2e/termination_test.go)",
	"Container.terminationMessagePolicy":       "TestTerminationMessages (e2e/termination_test.go)",
	"Container.stdin":                          "TestAttach (e2e/attach_test.go)",
	"Container.stdinOnce":                      "TestAttach (e2e/attach_test.go)",
	"Container.tty":                            "TestAttach (e2e/attach_test.go)",
	"ContainerResizePolicy.resourceName":       "TestInPlaceUpdate (e2e/inplace_test.go)",
	"ContainerResizePolicy.restartPolicy":      "TestInPlaceUpdate (e2e/inplace_test.go)",
	"ContainerPort.name":                       "TestCorpus (manifests/corpus_test.go)",
	"ContainerPort.containerPort":              "TestNetHostPortLoopbackGatewayTCPAndUDP (e2e/network_test.go)",
	"ContainerPort.hostPort":                   "TestNetHostPortLoopbackGatewayTCPAndUDP (e2e/network_test.go)",
	"ContainerPort.protocol":                   "TestNetHostPortLoopbackGatewayTCPAndUDP (e2e/network_test.go)",
	"ContainerPort.hostIP":                     "TestPlanPorts (netsetup/ports_test.go)",
	"EnvVar.name":                              "TestBuildEnv (pod/env_test.go)",
	"EnvVar.value":                             "TestBuildEnv (pod/env_test.go)",
	"ObjectFieldSelector.apiVersion":           "TestBuildEnv (pod/env_test.go)",
	"ObjectFieldSelector.fieldPath":            "TestBuildEnv (pod/env_test.go)",
	"ResourceFieldSelector.containerName":      "TestDownwardResourceFieldRefEnv (e2e/downward_test.go)",
	"ResourceFieldSelector.resource":           "TestDownwardResourceFieldRefEnv (e2e/downward_test.go)",
	"ResourceFieldSelector.divisor":            "TestDownwardResourceFieldRefEnv (e2e/downward_test.go)",
	"KeySelector.name":                         "TestInitContainersConfigMapsSecretsAndEnv (e2e/config_test.go)",
	"KeySelector.key":                          "TestInitContainersConfigMapsSecretsAndEnv (e2e/config_test.go)",
	"KeySelector.optional":                     "TestBuildEnv (pod/env_test.go)",
	"EnvFromSource.prefix":                     "TestBuildEnv (pod/env_test.go)",
	"LocalObjectRef.name":                      "TestBuildEnv (pod/env_test.go)",
	"LocalObjectRef.optional":                  "TestBuildEnvMissingReference (pod/env_test.go)",
	"ResourceRequirements.limits":              "TestMemoryLimitOOMKilled (e2e/resources_test.go)",
	"ResourceRequirements.requests":            "TestOOMScoreAdjFollowsQoS (e2e/qos_test.go)",
	"VolumeMount.name":                         "TestTwoContainerPodSharesNamespacesAndEmptyDir (e2e/pod_test.go)",
	"VolumeMount.mountPath":                    "TestTwoContainerPodSharesNamespacesAndEmptyDir (e2e/pod_test.go)",
	"VolumeMount.readOnly":                     "TestMounts (volumes/mounts_test.go)",
	"VolumeMount.subPath":                      "TestSubPathSymlinkStaysInVolume (container/init_linux_test.go)",
	"VolumeMount.mountPropagation":             "TestDownwardHostToContainerVolume (e2e/downward_test.go)",
	"VolumeMount.subPathExpr":                  "TestDownwardSubPathExpr (e2e/downward_test.go)",
	"Capabilities.add":                         "TestContainerConfig (pod/plan_test.go)",
	"Capabilities.drop":                        "TestContainerConfig (pod/plan_test.go)",
	"SecurityContext.privileged":               "TestContainerConfigPrivilegedKeepsEverything (pod/plan_test.go)",
	"SecurityContext.runAsUser":                "TestRunAsNonRootUser (e2e/pod_test.go)",
	"SecurityContext.runAsGroup":               "TestUser (pod/plan_test.go)",
	"SecurityContext.runAsNonRoot":             "TestRunAsNonRootUser (e2e/pod_test.go)",
	"SecurityContext.readOnlyRootFilesystem":   "TestReadOnlyRootfsAndCwd (container/init_linux_test.go)",
	"SecurityContext.allowPrivilegeEscalation": "TestContainerConfig (pod/plan_test.go)",
	"SecurityContext.procMount":                "TestMaskedAndReadonlyPaths (container/init_linux_test.go)",
	// Unconfined is what every container gets: berth loads no AppArmor
	// profiles; the corpus shows the other types refused.
	"AppArmorProfile.type": "TestCorpus (manifests/corpus_test.go)",

	// Seccomp: RuntimeDefault (also for a pod that says nothing),
	// Unconfined and Localhost profiles from <state>/seccomp/.
	"SeccompProfile.type":             "TestSeccomp (e2e/seccomp_test.go)",
	"SeccompProfile.localhostProfile": "TestSeccomp (e2e/seccomp_test.go)",

	// The pod's groups, volume ownership and sysctls.
	"PodSecurityContext.fsGroup":             "TestPodSecurityContextGroups (e2e/secctx_test.go)",
	"PodSecurityContext.fsGroupChangePolicy": "TestOwnershipOnRootMismatch (volumes/ownership_linux_test.go)",
	"Sysctl.name":                            "TestPodSysctls (e2e/secctx_test.go)",
	"Sysctl.value":                           "TestPodSysctls (e2e/secctx_test.go)",
}

// warned lists the fields types.go models that validation accepts with a
// warning saying they are ignored, with the test that shows the warning.
// (Fields types.go does not model are warned about by clusteronly.go.)
var warned = map[string]string{
	// berth reports its own uid; the field is modelled for that.
	"ObjectMeta.uid": "TestCorpus (manifests/corpus_test.go)",

	// A storage class only means something to a cluster's provisioner; a
	// claim's size is enforced only where the file system has project
	// quotas on, and validation says so.
	"PersistentVolumeClaimSpec.storageClassName": "TestValidateClaim (manifests/validate_claim_test.go)",
	"VolumeResourceRequirements.requests":        "TestValidateClaim (manifests/validate_claim_test.go)",
}

// refusedWith lists fields that validation allows only together with a
// value support.go refuses ("Type.field Value"), so no pod with them runs.
var refusedWith = map[string]string{
	"AppArmorProfile.localhostProfile": "AppArmorProfile.type Localhost",
}
