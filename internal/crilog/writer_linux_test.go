package crilog

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// readRun returns the records of run's files in order, and the files.
func readRun(t *testing.T, dir string, run int) ([]string, []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	files := RunFiles(names, run)
	var texts []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s ends inside a record", f)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if line == "" {
				continue
			}
			rec, err := Parse([]byte(line))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			texts = append(texts, string(rec.Text))
		}
	}
	return texts, files
}

func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestWriterRotatesBetweenRecords(t *testing.T) {
	dir := t.TempDir()
	const maxSize = 1000
	w, err := OpenWriter(WriterConfig{Dir: dir, Run: 3, MaxSize: maxSize, MaxFiles: 1000, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := Copy(w, strings.NewReader(numbered(2000)), Stdout, time.Now); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "3.log"))
	if err != nil || fi.Mode().Perm() != modeWriting {
		t.Fatalf("current file while written: %v, %v; want mode %o", fi, err, modeWriting)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	texts, files := readRun(t, dir, 3)
	if len(files) < 10 {
		t.Fatalf("only %d files for ~%d bytes at %d per file", len(files), 2000*45, maxSize)
	}
	for i, f := range files {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > maxSize {
			t.Errorf("%s is %d bytes, more than %d", f, fi.Size(), maxSize)
		}
		if fi.Mode().Perm() != modeComplete {
			t.Errorf("%s has mode %o after close, want %o", f, fi.Mode().Perm(), modeComplete)
		}
		if i < len(files)-1 && !strings.HasPrefix(f, "3.log.") {
			t.Errorf("rotated file %s is not named 3.log.<time>", f)
		}
	}
	if files[len(files)-1] != "3.log" {
		t.Errorf("last file %s, want 3.log", files[len(files)-1])
	}
	want := strings.Split(strings.TrimSuffix(numbered(2000), "\n"), "\n")
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("the records across the files are not lines 1..2000 in order (got %d records)", len(texts))
	}
}

func TestWriterKeepsMaxFiles(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(WriterConfig{Dir: dir, Run: 0, MaxSize: 500, MaxFiles: 3, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	// Another run's files are not this run's to delete.
	other := filepath.Join(dir, "1.log.20200101-000000.000000000")
	if err := os.WriteFile(other, nil, 0o440); err != nil {
		t.Fatal(err)
	}
	if err := Copy(w, strings.NewReader(numbered(1000)), Stderr, time.Now); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	texts, files := readRun(t, dir, 0)
	if len(files) != 3 {
		t.Fatalf("files %q, want 3", files)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another run's file was touched: %v", err)
	}
	// What is kept is the end of the output, with no gap.
	if len(texts) == 0 || texts[len(texts)-1] != "line 1000" {
		t.Fatalf("last record %q, want line 1000", texts[len(texts)-1])
	}
	first := 1000 - len(texts) + 1
	for i, txt := range texts {
		if want := fmt.Sprintf("line %d", first+i); txt != want {
			t.Fatalf("record %d is %q, want %q", i, txt, want)
		}
	}
}

// TestWriterDiskFull fills a small tmpfs: the writer drops records
// instead of blocking, never leaves a torn record, and writes again once
// there is room.
func TestWriterDiskFull(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, bytes.Repeat([]byte{'x'}, 40<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	var told []string
	dropping := func(dropped uint64, err error) { told = append(told, fmt.Sprintf("%d %v", dropped, err != nil)) }
	w, err := OpenWriter(WriterConfig{Dir: filepath.Join(dir, "c"), Run: 0, MaxSize: 1 << 20, MaxFiles: 2, Log: discardLog(), Dropping: dropping})
	if err != nil {
		t.Fatal(err)
	}
	var slept time.Duration
	w.sleep = func(d time.Duration) { slept += d }
	w.budget = 50 * time.Millisecond
	line := strings.Repeat("y", 200) + "\n"
	if err := Copy(w, strings.NewReader(strings.Repeat(line, 200)), Stdout, time.Now); err != nil {
		t.Fatalf("copy to a full disk failed instead of dropping: %v", err)
	}
	if w.dropped == 0 || !w.dropping {
		t.Fatalf("dropped %d, dropping %v: the disk was expected to fill", w.dropped, w.dropping)
	}
	if slept == 0 || slept > time.Second {
		t.Errorf("retried for %s, want a bounded back-off", slept)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := Copy(w, strings.NewReader("after\n"), Stdout, time.Now); err != nil {
		t.Fatal(err)
	}
	if w.dropping {
		t.Error("still dropping after space was freed")
	}
	if want := []string{"0 true", fmt.Sprintf("%d false", w.dropped)}; strings.Join(told, ",") != strings.Join(want, ",") {
		t.Errorf("told %q, want %q: when dropping began (with why) and ended (with how many)", told, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	texts, _ := readRun(t, filepath.Join(dir, "c"), 0)
	if len(texts) == 0 || texts[len(texts)-1] != "after" {
		t.Fatalf("the record written after space was freed is missing")
	}
	for _, txt := range texts[:len(texts)-1] {
		if txt != strings.TrimSuffix(line, "\n") {
			t.Fatalf("torn record %q", txt)
		}
	}
}
