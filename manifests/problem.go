package manifests

import (
	"fmt"
	"strings"
)

// Severity ranks a Problem.
type Severity int

// Severities, from most to least serious. Error and Unsupported both refuse
// the document; they differ so that users can tell "you wrote it wrong" from
// "berth cannot do that yet".
const (
	Error       Severity = iota // invalid
	Unsupported                 // valid Kubernetes, not supported yet by berth
	Warning                     // accepted and ignored
)

// String returns "invalid", "not supported yet" or "warning".
func (s Severity) String() string {
	switch s {
	case Error:
		return "invalid"
	case Unsupported:
		return "not supported yet"
	case Warning:
		return "warning"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Problem is one finding about a manifest.
type Problem struct {
	File     string
	Document int    // 0-based; -1 for a problem with the whole file
	Path     string // Kubernetes field path; empty for the whole document
	Line     int    // 1-based; 0 when unknown
	Severity Severity
	Message  string
}

// String reads like
//
//	pod.yaml: document 2: spec.containers[1].name (line 23): <message>
//
// Warnings carry a "warning: " prefix before the message.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Document >= 0 {
		fmt.Fprintf(&b, "document %d: ", p.Document+1)
	}
	where := p.Path
	if p.Line > 0 {
		if where != "" {
			where += " "
		}
		where += fmt.Sprintf("(line %d)", p.Line)
	}
	if where != "" {
		b.WriteString(where)
		b.WriteString(": ")
	}
	if p.Severity == Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error makes a Problem usable as an error.
func (p Problem) Error() string { return p.String() }

// Refuses reports whether the problem keeps the document from running.
func (p Problem) Refuses() bool { return p.Severity == Error || p.Severity == Unsupported }

// Document is one YAML document of a File.
type Document struct {
	Index int    // 0-based position among the file's non-empty documents
	Kind  string // as written; empty when missing
	Line  int    // first line of the document

	// Exactly one of these is set when Kind is known, even if the document
	// has problems (so callers can name the object a bad file declares).
	// Check HasErrors before acting on it.
	Pod       *Pod
	ConfigMap *ConfigMap
	Secret    *Secret
	Claim     *PersistentVolumeClaim

	Problems []Problem

	file  string
	lines map[string]int // field path -> line, built while decoding
}

// HasErrors reports whether any problem refuses the document.
func (d *Document) HasErrors() bool { return refuses(d.Problems) }

// LineOf returns the line of path, or of its nearest ancestor that was
// written in the document (a missing field points at its parent).
func (d *Document) LineOf(path string) int {
	if l, ok := d.lines[path]; ok {
		return l
	}
	for i := len(path) - 1; i > 0; i-- {
		if path[i] != '.' && path[i] != '[' {
			continue
		}
		if l, ok := d.lines[path[:i]]; ok {
			return l
		}
	}
	return d.lines[""]
}

// ProblemAt builds a Problem about this document, for callers that find
// problems across documents (a missing ConfigMap reference, a duplicate pod
// name), with the line looked up from path.
func (d *Document) ProblemAt(sev Severity, path, msg string) Problem {
	return Problem{File: d.file, Document: d.Index, Path: path, Line: d.LineOf(path), Severity: sev, Message: msg}
}

// File is the result of parsing one manifest file.
type File struct {
	Path string
	Docs []*Document

	problems []Problem // about the whole file (too large, unreadable)
}

// Problems returns every problem of the file and its documents, in order.
func (f *File) Problems() []Problem {
	out := append([]Problem(nil), f.problems...)
	for _, d := range f.Docs {
		out = append(out, d.Problems...)
	}
	return out
}

// HasErrors reports whether any problem refuses the file or one of its
// documents.
func (f *File) HasErrors() bool {
	if refuses(f.problems) {
		return true
	}
	for _, d := range f.Docs {
		if d.HasErrors() {
			return true
		}
	}
	return false
}

func refuses(ps []Problem) bool {
	for _, p := range ps {
		if p.Refuses() {
			return true
		}
	}
	return false
}
