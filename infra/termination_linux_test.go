package infra

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTerminationFile: the file is made empty and writable by any user
// before a run, never through a symlink, and read back capped at 4 KiB;
// the log's tail stands in only for a failed run under
// FallbackToLogsOnError that wrote nothing.
func TestTerminationFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "termination-log")
	if err := os.WriteFile(file, []byte("old run"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := resetTerminationFile(file); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() != 0 || fi.Mode().Perm() != 0o666 {
		t.Fatalf("after reset: %v, %v; want an empty 0666 file", fi, err)
	}
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := resetTerminationFile(link); err == nil {
		t.Error("reset followed a symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("symlink target now holds %q", b)
	}
	if _, err := readHead(link, 10); err == nil {
		t.Error("read followed a symlink")
	}

	logPath := filepath.Join(dir, "0.log")
	if err := os.WriteFile(logPath, []byte("2026-01-02T03:04:05.000000000Z stderr F starting\n2026-01-02T03:04:05.000000001Z stderr F boom\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &procsLinux{cfg: &PodConfig{Key: "test/term"}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	fallback := &ContainerConfig{Name: "c", TerminationMessageFile: file, TerminationMessagePolicy: TerminationMessageFallbackToLogs}
	fileOnly := &ContainerConfig{Name: "c", TerminationMessageFile: file, TerminationMessagePolicy: TerminationMessageFile}
	for _, tc := range []struct {
		name   string
		cfg    *ContainerConfig
		failed bool
		want   string
	}{
		{"empty file, failed, fallback", fallback, true, "starting\nboom\n"},
		{"empty file, succeeded, fallback", fallback, false, ""},
		{"empty file, failed, File", fileOnly, true, ""},
	} {
		if got := p.terminationMessage(tc.cfg, logPath, tc.failed); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	big := strings.Repeat("w", MaxTerminationMessage+10)
	if err := os.WriteFile(file, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := p.terminationMessage(fallback, logPath, true); got != big[:MaxTerminationMessage] {
		t.Errorf("a written file: message of %d bytes, want its first %d", len(got), MaxTerminationMessage)
	}
}
