package manifests

import "encoding/json"

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
	v.secretType(s)
	return v.probs
}

// secretKeys are the keys each built-in Secret type needs (any one of
// them for basic-auth), as the API server checks them.
var secretKeys = map[string][]string{
	"kubernetes.io/dockercfg":        {".dockercfg"},
	"kubernetes.io/dockerconfigjson": {".dockerconfigjson"},
	"kubernetes.io/basic-auth":       {"username", "password"},
	"kubernetes.io/ssh-auth":         {"ssh-privatekey"},
	"kubernetes.io/tls":              {"tls.crt", "tls.key"},
}

// clusterSecretTypes are the types whose data a cluster writes or reads.
var clusterSecretTypes = map[string]string{
	"kubernetes.io/service-account-token": "a cluster's token controller fills in its token, and berth has no service accounts",
	"bootstrap.kubernetes.io/token":       "only a cluster's API server reads bootstrap tokens",
}

// secretType checks a Secret's keys against its type, over data and
// stringData together (they are merged after validation).
func (v *validator) secretType(s *Secret) {
	has := func(k string) bool {
		_, inData := s.Data[k]
		_, inString := s.StringData[k]
		return inData || inString
	}
	if why, ok := clusterSecretTypes[s.Type]; ok {
		v.add(Warning, "type", "type %s is accepted as an opaque secret: %s", s.Type, why)
		return
	}
	keys := secretKeys[s.Type]
	switch {
	case len(keys) == 0:
	case s.Type == "kubernetes.io/basic-auth":
		if !has("username") && !has("password") {
			v.errf("type", "type %s needs a username or a password key in data or stringData", s.Type)
		}
	default:
		for _, k := range keys {
			if !has(k) {
				v.errf("type", "type %s needs the key %q in data or stringData", s.Type, k)
			}
		}
	}
	if s.Type == "kubernetes.io/dockerconfigjson" && has(".dockerconfigjson") {
		path, b := joinKey("data", ".dockerconfigjson"), s.Data[".dockerconfigjson"]
		if str, ok := s.StringData[".dockerconfigjson"]; ok {
			path, b = joinKey("stringData", ".dockerconfigjson"), []byte(str)
		}
		if !json.Valid(b) {
			v.errf(path, "the value is not valid JSON")
		}
	}
}
