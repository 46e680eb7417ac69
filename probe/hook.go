package probe

import (
	"context"
	"fmt"

	"github.com/berth-project/berth/manifests"
)

// HookUserAgent is the User-Agent of httpGet lifecycle hooks unless they
// set one: "kube-lifecycle/" as the kubelet's.
const HookUserAgent = "kube-lifecycle/berth"

// HTTPHook sends an httpGet lifecycle hook's GET as the kubelet does: the
// request is built as a probe's (host the pod's IP, scheme HTTP, the path,
// a named or numeric port, the headers), dialed through t.Dialer and
// exchanged as a probe's, following redirects to the same host. Only a
// request that cannot be sent or answered fails it: the kubelet takes any
// response, whatever its status code, as the hook having run. It ends
// with ctx.
func HTTPHook(ctx context.Context, a manifests.HTTPGetAction, t Target) error {
	if t.Dialer == nil {
		return fmt.Errorf("httpGet hook: no dialer")
	}
	if t.UserAgent == "" {
		t.UserAgent = HookUserAgent
	}
	port, err := ResolvePort(a.Port, t.Ports)
	if err != nil {
		return fmt.Errorf("httpGet.port: %w", err)
	}
	req, err := newHTTPRequest(ctx, a, t, port)
	if err != nil {
		return err
	}
	_, _, _, stoppedAt, err := newHTTPChecker(a, t).follow(ctx, req, nil)
	switch {
	case err != nil:
		return err
	case stoppedAt != "":
		return fmt.Errorf("GET %s: stopped after %d redirects", stoppedAt, maxRedirects)
	}
	return nil
}
