package manifests

// ValidateConfigMap checks a ConfigMap's name and keys.
func ValidateConfigMap(cm *ConfigMap) []Problem {
	v := &validator{}
	v.objectMeta(&cm.ObjectMeta, "metadata")
	for _, k := range sortedKeys(cm.Data) {
		v.check(joinKey("data", k), checkConfigKey(k))
	}
	for _, k := range sortedKeys(cm.BinaryData) {
		v.check(joinKey("binaryData", k), checkConfigKey(k))
		if _, dup := cm.Data[k]; dup {
			v.errf(joinKey("binaryData", k), "key %q is also in data: a key may appear in only one of them", k)
		}
	}
	return v.probs
}

// ValidateSecret checks a Secret's name and keys (in data and stringData).
func ValidateSecret(s *Secret) []Problem {
	v := &validator{}
	v.objectMeta(&s.ObjectMeta, "metadata")
	for _, k := range sortedKeys(s.Data) {
		v.check(joinKey("data", k), checkConfigKey(k))
	}
	for _, k := range sortedKeys(s.StringData) {
		v.check(joinKey("stringData", k), checkConfigKey(k))
	}
	return v.probs
}
