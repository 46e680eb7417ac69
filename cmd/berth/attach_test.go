package main

import "testing"

func TestAttachTerminal(t *testing.T) {
	tests := []struct {
		name                   string
		stdin, tty, isTerminal bool
		raw                    bool
		warned                 bool
	}{
		{"output only", false, false, true, false, false},
		{"input, no terminal asked", true, false, true, false, false},
		{"-it on a terminal", true, true, true, true, false},
		{"-it from a pipe", true, true, false, false, true},
		{"-t without -i", false, true, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, warning := attachTerminal(tt.stdin, tt.tty, tt.isTerminal)
			if raw != tt.raw || (warning != "") != tt.warned {
				t.Fatalf("got raw %v, warning %q; want raw %v, warned %v", raw, warning, tt.raw, tt.warned)
			}
		})
	}
}

func TestResumeCommand(t *testing.T) {
	tests := []struct {
		r    attachRequest
		want string
	}{
		{attachRequest{namespace: "default", pod: "debug"}, "berth attach debug -i -t"},
		{attachRequest{namespace: "tools", pod: "debug", container: "sh"}, "berth attach debug -n tools -c sh -i -t"},
	}
	for _, tt := range tests {
		if got := resumeCommand(tt.r); got != tt.want {
			t.Errorf("resumeCommand(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
