package infra

import (
	"errors"
	"strings"
	"testing"
)

func TestAttachRefusal(t *testing.T) {
	plain := &ContainerConfig{Name: "app"}
	in := &ContainerConfig{Name: "app", Stdin: true}
	term := &ContainerConfig{Name: "app", Stdin: true, TTY: true}
	ttyOnly := &ContainerConfig{Name: "app", TTY: true}
	tests := []struct {
		name        string
		c           *ContainerConfig
		stdin, tty  bool
		stdinClosed bool
		want        string // "" for no refusal
	}{
		{"output only", plain, false, false, false, ""},
		{"output of a terminal", term, false, false, false, ""},
		{"input", in, true, false, false, ""},
		{"terminal with input", term, true, true, false, ""},
		{"terminal without input", ttyOnly, false, true, false, ""},
		{"input without stdin", plain, true, false, false, "takes no input (its spec has no stdin: true)"},
		{"terminal without tty", in, true, true, false, "did not allocate one (its spec has no tty: true)"},
		{"input after stdinOnce closed it", in, true, false, true, "closed when its first attach session ended (stdinOnce: true)"},
		{"output after stdinOnce closed it", in, false, false, true, ""},
		{"tty input without stdin", ttyOnly, true, true, false, "takes no input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := attachRefusal(tt.c, tt.stdin, tt.tty, tt.stdinClosed)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrAttachRefused) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "container app") {
				t.Fatalf("got %v, want a refusal naming container app with %q", err, tt.want)
			}
		})
	}
}
