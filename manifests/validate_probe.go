package manifests

import "strings"

// probes checks a regular container's liveness, readiness and startup
// probes as Kubernetes' validation does.
func (v *validator) probes(c *Container, path string) {
	for _, p := range []struct {
		field     string
		probe     *Probe
		readiness bool
	}{{"livenessProbe", c.LivenessProbe, false}, {"readinessProbe", c.ReadinessProbe, true}, {"startupProbe", c.StartupProbe, false}} {
		if p.probe != nil {
			v.probe(p.probe, joinField(path, p.field), p.readiness)
		}
	}
}

// noProbes refuses probes on an init container that is not a sidecar,
// which must run to completion: Kubernetes allows them only on sidecars
// (restartPolicy: Always).
func (v *validator) noProbes(c *Container, path string) {
	for field, p := range map[string]*Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe, "startupProbe": c.StartupProbe} {
		if p != nil {
			v.errf(joinField(path, field), "must not be set for an init container unless it is a sidecar (restartPolicy: Always)")
		}
	}
}

// IsSidecar says whether init container c is a sidecar: restartPolicy
// Always, as Kubernetes calls a restartable init container.
func IsSidecar(c *Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == "Always"
}

// Sidecars are the sidecars among spec's init containers, in order.
func Sidecars(spec *PodSpec) []*Container {
	var out []*Container
	for i := range spec.InitContainers {
		if c := &spec.InitContainers[i]; IsSidecar(c) {
			out = append(out, c)
		}
	}
	return out
}

func (v *validator) probe(p *Probe, path string, readiness bool) {
	for _, f := range []struct {
		name string
		val  int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds}, {"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds}, {"successThreshold", p.SuccessThreshold}, {"failureThreshold", p.FailureThreshold},
	} {
		if f.val < 0 {
			v.errf(joinField(path, f.name), "must be 0 or more (0 takes the default), got %d", f.val)
		}
	}
	if !readiness && p.SuccessThreshold > 1 {
		v.errf(joinField(path, "successThreshold"), "must be 1 for liveness and startup probes, got %d", p.SuccessThreshold)
	}
	if g := p.TerminationGracePeriodSeconds; g != nil {
		switch {
		case readiness:
			v.errf(joinField(path, "terminationGracePeriodSeconds"), "must not be set for a readiness probe")
		case *g <= 0:
			v.errf(joinField(path, "terminationGracePeriodSeconds"), "must be greater than 0, got %d", *g)
		}
	}
	n := 0
	if a := p.Exec; a != nil {
		n++
		if len(a.Command) == 0 {
			v.errf(joinField(joinField(path, "exec"), "command"), "command is required")
		}
	}
	if a := p.HTTPGet; a != nil {
		n++
		v.httpGet(a, joinField(path, "httpGet"))
	}
	if a := p.TCPSocket; a != nil {
		n++
		v.probePort(a.Port, joinField(joinField(path, "tcpSocket"), "port"))
	}
	if a := p.GRPC; a != nil {
		n++
		if a.Port < 1 || a.Port > 65535 {
			v.errf(joinField(joinField(path, "grpc"), "port"), "port %d is out of range: use 1 to 65535", a.Port)
		}
	}
	switch {
	case n == 0:
		v.errf(path, "a probe needs one of exec, httpGet, tcpSocket or grpc")
	case n > 1:
		v.errf(path, "a probe takes only one of exec, httpGet, tcpSocket or grpc")
	}
}

// httpGet checks the httpGet action of a probe or lifecycle hook.
func (v *validator) httpGet(a *HTTPGetAction, path string) {
	v.probePort(a.Port, joinField(path, "port"))
	v.oneOf(joinField(path, "scheme"), a.Scheme, "", "HTTP", "HTTPS")
	for i, h := range a.HTTPHeaders {
		if !validHeaderName(h.Name) {
			v.errf(joinField(joinIndex(joinField(path, "httpHeaders"), i), "name"), "%q is not a valid HTTP header name", clip(h.Name))
		}
	}
}

// probePort checks a probe's port: a number from 1 to 65535 or the name
// of one of the container's ports.
func (v *validator) probePort(p IntOrString, path string) {
	if p.Type == StringValue {
		v.check(path, checkPortName(p.StrVal))
		return
	}
	if p.IntVal < 1 || p.IntVal > 65535 {
		v.errf(path, "port %d is out of range: use 1 to 65535, or a port name", p.IntVal)
	}
}

// validHeaderName is an HTTP header name: an RFC 7230 token.
func validHeaderName(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r)
	}) < 0
}
