package container

import (
	"os"
	"testing"
)

func TestLookPath(t *testing.T) {
	exists := map[string]bool{"/bin/sh": true, "/usr/local/bin/app": true, "/usr/bin/app": true, "./rel": true}
	isExec := func(p string) error {
		if exists[p] {
			return nil
		}
		return os.ErrNotExist
	}
	tests := []struct {
		name, file string
		env        []string
		want       string
		errText    string
	}{
		{name: "default PATH", file: "sh", want: "/bin/sh"},
		{name: "PATH order", file: "app", env: []string{"PATH=/usr/bin:/usr/local/bin"}, want: "/usr/bin/app"},
		{name: "last PATH wins", file: "app", env: []string{"PATH=/nowhere", "PATH=/usr/local/bin"}, want: "/usr/local/bin/app"},
		{name: "absolute", file: "/bin/sh", env: []string{"PATH="}, want: "/bin/sh"},
		{name: "relative with slash", file: "./rel", want: "./rel"},
		{name: "empty PATH element is cwd", file: "rel", env: []string{"PATH=:/bin"}, want: "rel"},
		{name: "missing", file: "nope", errText: `exec: "nope": executable file not found in $PATH`},
		{name: "missing absolute", file: "/nope", errText: `exec: "/nope": file does not exist`},
	}
	exists["rel"] = true
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookPath(tt.file, tt.env, isExec)
			if tt.errText != "" {
				if err == nil || err.Error() != tt.errText {
					t.Fatalf("err = %v, want %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("lookPath(%q) = %q, want %q", tt.file, got, tt.want)
			}
		})
	}
}
