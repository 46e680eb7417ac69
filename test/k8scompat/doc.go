// Package k8scompat checks berth against Kubernetes itself: the k8s.io/api
// types are the oracle for what berth accepts (every example and valid
// corpus manifest decodes strictly as a v1 object), for what berth prints
// (`berth get pods|pod|events -o json|yaml` from a running daemon decodes
// strictly as v1.PodList, v1.Pod and v1.EventList and round-trips without
// losing a field), and for resource quantities and defaults.
//
// It is a module of its own so that berth's binary never links k8s.io/api;
// it reaches berth's packages through a replace directive. Run it with
// `cd test/k8scompat && go test ./...`; the daemon tests need root.
package k8scompat
