package main

// verb is a verb's name and summary as `berth --help` lists it.
type verb struct{ use, short string }

// The verbs only the full build links (full.go): the lean build lists them
// with these same words and executes the full build to run them (lean.go).
var (
	daemonVerb = verb{"daemon", "Run the pods of the manifest directory and serve the local API"}
	topVerb    = verb{"top", "Display CPU and memory use (like kubectl top)"}
	imageVerb  = verb{"image", "Manage the local image store (no daemon needed)"}
	volumeVerb = verb{"volume", "Manage the claims' local volumes (no daemon needed)"}
)
