package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// initSizeRE finds the size the daemon logs for the embedded init binary.
var initSizeRE = regexp.MustCompile(`msg="init binary" source=embedded size=(\d+)`)

// TestLeanCLIRunsTheFullBuild fails when berth, as hack/build makes it,
// stops being the lean build of the client verbs that runs the daemon
// (and the other verbs) from the full build it embeds.
func TestLeanCLIRunsTheFullBuild(t *testing.T) {
	d := startDaemon(t)
	if out := d.mustBerth("version"); !strings.Contains(out, "\nfull: embedded (") {
		t.Fatalf("berth version does not report an embedded full build:\n%s", out)
	}
	pid := d.cmd.Process.Pid
	target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(target, "/memfd:berth-full") {
		t.Errorf("the daemon %d runs %q, want the sealed memfd berth-full", pid, target)
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if want := filepath.Base(berthBin); err != nil || string(comm) != want[:min(len(want), 15)]+"\n" {
		t.Errorf("the daemon is named %q (%v), want %q as it was started", comm, err, want)
	}
	// A verb of the full build's, flags and help included.
	if out := d.mustBerth("image", "ls"); !strings.Contains(out, d.image) {
		t.Errorf("berth image ls does not list %s:\n%s", d.image, out)
	}
	if out := d.mustBerth("volume", "--help"); !strings.Contains(out, "Usage:\n  berth volume [command]") {
		t.Errorf("berth volume --help:\n%s", out)
	}
}

// TestInitBinaryIsEmbeddedAndRunsTheInfra fails when the lean init binary
// (cmd/berth-init, embedded by hack/build) stops being embedded or stops
// being what a pod's infra process runs.
func TestInitBinaryIsEmbeddedAndRunsTheInfra(t *testing.T) {
	d := startDaemon(t)
	m := initSizeRE.FindStringSubmatch(d.logBuf.String())
	if m == nil {
		t.Fatalf("daemon did not log the embedded init binary:\n%s", d.logBuf.String())
	}
	leanSize, _ := strconv.ParseInt(m[1], 10, 64)

	d.apply("lean.yaml", podYAML("lean", "Always", `["/bin/demo", "sleep", "3600"]`))
	pid := d.runningPod("lean").InfraPID()
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	target, err := os.Readlink(exe)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(target, "/memfd:berth-init") {
		t.Errorf("infra %d runs %q, want the sealed memfd berth-init", pid, target)
	}
	st, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	full, err := os.Stat(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != leanSize || st.Size() >= full.Size()/2 {
		t.Errorf("infra runs a %d-byte binary, want the lean one (%d bytes; berth is %d)", st.Size(), leanSize, full.Size())
	}
	t.Logf("berth %d bytes, lean init %d bytes, infra %s", full.Size(), st.Size(), pssAnon(t, pid))

	// The lean binary has no CLI: run by hand it explains itself and exits 2.
	out, err := exec.Command(exe).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !bytes.Contains(out, []byte("embedded in berth")) {
		t.Errorf("running the init binary by hand: %v\n%s", err, out)
	}
}

// pssAnon reads the Pss_Anon line of a process's smaps_rollup.
func pssAnon(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return "Pss_Anon unknown: " + err.Error()
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Pss_Anon:") {
			return strings.Join(strings.Fields(sc.Text()), " ")
		}
	}
	return "Pss_Anon unknown: no such line"
}
