package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"
)

// ErrNotFound is returned when the daemon does not know a pod.
var ErrNotFound = errors.New("not found")

// Wait conditions for GET /v1/pods/{ns}/{name}?wait=...
const (
	WaitSettled = "settled" // running, finished, or failed to start
	WaitGone    = "gone"    // no longer exists
)

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error string `json:"error"`
}

// Client talks to the daemon over its unix socket (http.go).
type Client struct {
	socket string
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	return &Client{socket: socket}
}

// Pods lists the daemon's pods.
func (c *Client) Pods(ctx context.Context) ([]Pod, error) {
	var l PodList
	if err := c.get(ctx, "/v1/pods", &l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// Pod returns one pod, or ErrNotFound.
func (c *Client) Pod(ctx context.Context, namespace, name string) (Pod, error) {
	var p Pod
	err := c.get(ctx, podPath(namespace, name), &p)
	return p, err
}

// WaitSettled waits until the pod is Settled (or timeout passes) and
// returns its last state; timedOut tells which.
func (c *Client) WaitSettled(ctx context.Context, namespace, name string, timeout time.Duration) (p Pod, timedOut bool, err error) {
	q := url.Values{"wait": {WaitSettled}, "timeout": {durationParam(timeout)}}
	resp, err := c.do(ctx, "GET", podPath(namespace, name)+"?"+q.Encode())
	if err != nil {
		return Pod{}, false, err
	}
	defer resp.Body.Close()
	if err := decode(resp, &p); err != nil {
		return Pod{}, false, err
	}
	return p, resp.Header.Get("X-Berth-Timeout") != "", nil
}

// WaitGone waits until the pod no longer exists; it returns false when
// timeout passed first.
func (c *Client) WaitGone(ctx context.Context, namespace, name string, timeout time.Duration) (bool, error) {
	q := url.Values{"wait": {WaitGone}, "timeout": {durationParam(timeout)}}
	resp, err := c.do(ctx, "GET", podPath(namespace, name)+"?"+q.Encode())
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == statusNoContent {
		return true, nil
	}
	return false, decode(resp, &Pod{})
}

// Events returns the events last seen after since (all when since is
// zero), oldest first; object, when set, keeps only that object's events
// (PodObject for a pod's).
func (c *Client) Events(ctx context.Context, since time.Time, object string) ([]Event, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", since.Format(time.RFC3339Nano))
	}
	if object != "" {
		q.Set("object", object)
	}
	path := "/v1/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var ev []Event
	err := c.get(ctx, path, &ev)
	return ev, err
}

// Reconcile asks the daemon for a pass now and waits for it.
func (c *Client) Reconcile(ctx context.Context) error {
	_, err := c.ReconcileFor(ctx, nil)
	return err
}

// PodKey names a pod.
type PodKey struct{ Namespace, Name string }

// ReconcileFor runs a reconcile pass, as Reconcile does, and returns the
// brief of each named pod that exists as the pass left it: a caller
// waiting for pods the pass created needs no second request when they
// arrived. A daemon older than this answers with none, and the caller
// asks for each.
func (c *Client) ReconcileFor(ctx context.Context, pods []PodKey) ([]PodBrief, error) {
	q := url.Values{}
	for _, k := range pods {
		q.Add("pod", k.Namespace+"/"+k.Name)
	}
	path := "/v1/reconcile"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.do(ctx, "POST", path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var briefs []PodBrief
	if err := decode(resp, &briefs); err != nil {
		return nil, err
	}
	return briefs, nil
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, "GET", path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decode(resp, v)
}

func (c *Client) do(ctx context.Context, method, path string) (*response, error) {
	return c.roundTrip(ctx, method, path, nil)
}

func decode(resp *response, v any) error {
	if resp.StatusCode >= 300 {
		var e errorBody
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			if resp.StatusCode == statusNotFound {
				return fmt.Errorf("%s: %w", e.Error, ErrNotFound)
			}
			return errors.New(e.Error)
		}
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	if v == nil || resp.StatusCode == statusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode daemon answer: %w", err)
	}
	return nil
}

func podPath(namespace, name string) string {
	return "/v1/pods/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

func durationParam(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }
