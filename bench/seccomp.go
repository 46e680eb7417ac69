package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// getpidCalls is how many getpid calls the syscall-heavy workload makes
// per run (about half a second here).
const getpidCalls = 2000000

// seccompProfiles are the two sides compared: the default (no
// seccompProfile: RuntimeDefault) and Unconfined.
var seccompProfiles = []struct{ series, profile string }{{"default", ""}, {"unconfined", "Unconfined"}}

// seccompScenarios measure what the seccomp filter costs, berth only, the
// two profiles interleaved: seccomp-start-1 is start-1's pod under each
// (`berth apply` wall time, and berth's own manifest-to-started figure as
// "-int"); seccomp-getpid is a container making getpidCalls getpid system
// calls, ns per call as it measures them itself.
func (bn *bench) seccompScenarios() ([]*Scenario, error) {
	start := &Scenario{Name: "seccomp-start-1", Unit: "ms"}
	calls := &Scenario{Name: "seccomp-getpid", Unit: "ns"}
	phases := map[string]map[string][]float64{}
	for i := 0; i < bn.warmup+bn.n; i++ {
		keep := i >= bn.warmup
		for _, p := range seccompProfiles {
			name := fmt.Sprintf("seccomp-%s-%d", p.series, i)
			f, err := bn.writeFile(name+".yaml", seccompPodYAML(name, p.profile, `["/bin/demo", "sleep"]`))
			if err != nil {
				return nil, err
			}
			up, err := bn.b.timedCLI("apply", "-f", f, "--timeout", "60s")
			if err != nil {
				return nil, fmt.Errorf("seccomp start (%s): %w", p.series, err)
			}
			if err := waitWorkloadsHandleSIGTERM(10 * time.Second); err != nil {
				return nil, err
			}
			if _, err := bn.b.cli("delete", "-f", f, "--timeout", "60s"); err != nil {
				return nil, err
			}
			ts := bn.b.timings()
			if keep {
				start.add(p.series, up)
				for _, t := range ts {
					start.add(p.series+"-int", ms(t.Phases["total"]))
					if phases[p.series] == nil {
						phases[p.series] = map[string][]float64{}
					}
					for k, d := range t.Phases {
						phases[p.series][k] = append(phases[p.series][k], ms(d))
					}
				}
			}
			ns, err := bn.getpidRun(fmt.Sprintf("getpid-%s-%d", p.series, i), p.profile)
			if err != nil {
				return nil, fmt.Errorf("seccomp getpid (%s): %w", p.series, err)
			}
			if keep {
				calls.add(p.series, ns)
			}
		}
	}
	for series, ph := range phases {
		med := map[string]float64{}
		for k, v := range ph {
			med[k] = round3(Summarize(v).Median)
		}
		start.note("phases_median_ms_"+series, med)
	}
	for _, s := range []*Scenario{start, calls} {
		for _, pair := range [][2]string{{"default", "unconfined"}, {"default-int", "unconfined-int"}} {
			num, den := s.samples(pair[0]), s.samples(pair[1])
			if len(num) > 0 && len(den) > 0 {
				s.note(pair[0]+"_minus_"+pair[1]+"_median", round3(Summarize(num).Median-Summarize(den).Median))
				s.note(pair[0]+"/"+pair[1], Summarize(PairRatios(num, den)))
			}
		}
	}
	return []*Scenario{start, calls}, nil
}

// getpidRun runs the getpid workload once in pod name and returns the ns
// per call it printed.
func (bn *bench) getpidRun(name, profile string) (float64, error) {
	f, err := bn.writeFile(name+".yaml", seccompPodYAML(name, profile, fmt.Sprintf(`["/bin/demo", "--then-sleep", "getpid", "%d"]`, getpidCalls)))
	if err != nil {
		return 0, err
	}
	if _, err := bn.b.cli("apply", "-f", f, "--timeout", "60s"); err != nil {
		return 0, err
	}
	defer bn.b.cli("delete", "-f", f, "--timeout", "60s")
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := bn.b.cli("logs", name)
		if err == nil {
			if ns, ok := parseGetpid(out); ok {
				return ns, nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no getpid figure in the logs of %s within 60s: %v\n%s", name, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parseGetpid reads "getpid: N calls, X ns each".
func parseGetpid(logs string) (float64, bool) {
	for _, line := range strings.Split(logs, "\n") {
		_, rest, ok := strings.Cut(line, "calls, ")
		if !ok || !strings.HasPrefix(line, "getpid: ") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(rest, " ns each"), 64)
		return v, err == nil
	}
	return 0, false
}

// seccompPodYAML is a one-container pod with the given command, under
// profile ("" for none said).
func seccompPodYAML(name, profile, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  terminationGracePeriodSeconds: 10\n", name)
	if profile != "" {
		fmt.Fprintf(&b, "  securityContext:\n    seccompProfile: {type: %s}\n", profile)
	}
	b.WriteString("  containers:\n")
	container(&b, "main", imageRef, command, "")
	return b.String()
}
