// The helper of earlyjoin's tests: built with the entry point, it keeps
// several threads busy, then prints whether the entry point joined
// os.Args[1] cgroups and each thread's /proc cgroup file, one line each.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/earlyjoin"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	done := make(chan struct{})
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					return
				default:
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	fmt.Println(earlyjoin.Joined(n))
	earlyjoin.Close()
	tasks, _ := filepath.Glob("/proc/self/task/*/cgroup")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", " "))
	}
	close(done)
}
