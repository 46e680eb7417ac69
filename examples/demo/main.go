// Command demo is berth's test and demo workload: one small static binary
// (standard library only) whose sub-command, given as the first argument,
// selects a behaviour that tests can observe from outside the container.
//
//	demo sleep [DURATION]          sleep (forever without DURATION)
//	demo serve [--port N]          HTTP: / (hello + hostname), /env, /file?path=, /healthz,
//	                               /log (prints the request URI and its X-Hook header)
//	           [--unhealthy-file P] /healthz answers 500 while the file P exists
//	           [--healthy-after D]  and for the first D after the start
//	           [--host H]           listen on H only (a hostNetwork pod's 127.0.0.1)
//	           [--tls]              HTTPS with a self-signed certificate made at start
//	           [--tls-cert F --tls-key F]  HTTPS with the certificate in these files;
//	                                /livez, /readyz and /health answer as /healthz
//	           [--any-path]         and so does every path not listed here;
//	                                --port may be given more than once
//	demo grpc-health PORT          grpc.health.v1 Check over h2c: SERVING, or
//	                               NOT_SERVING while /tmp/grpc-unhealthy exists
//	demo write PATH TEXT           write TEXT to PATH (creating parent dirs)
//	demo append PATH TEXT          append TEXT to PATH (an exec probe that counts its runs)
//	demo read PATH                 print the file at PATH
//	demo remove PATH               remove the file at PATH
//	demo publish PATH TEXT         write TEXT to PATH atomically (temp file, rename)
//	demo wait-read PATH            wait until PATH exists, then print it
//	demo env                       print the environment, one VAR=value a line
//	demo exit N                    exit with status N
//	demo echo-tcp PORT             TCP echo server
//	demo echo-udp PORT             UDP echo server
//	demo dial ADDR MSG             TCP client: send MSG, print the reply line
//	demo alloc MiB                 allocate and touch MiB of memory, then sleep
//	demo spin                      burn one CPU forever
//	demo print-lines N             print N numbered lines to stdout
//	demo ps                        list /proc pids with their comm
//	demo id                        uid/gid/groups/capabilities from /proc/self/status
//	demo hostname                  print the hostname
//	demo tick INTERVAL             print "tick N", N from 1, every INTERVAL, forever
//	demo tty                       whether stdin is a terminal, and its name
//	demo shell                     a prompt ("demo$ ") reading lines from stdin: "tty"
//	                               runs demo tty, "exit" exits, others are answered
//	                               "you said: LINE"; at end of input "stdin: EOF", exit 0
//	demo self                      own cgroups and namespaces (/proc/self)
//	demo open PATH [rw]            open PATH read-only (or read-write) and close it
//	demo mknod PATH c|b MAJ MIN    create a device node, mode 0666
//	demo syscalls                  the Seccomp mode, then each call a container's
//	                               seccomp profile refuses, with its result
//	demo getpid N                  N getpid system calls; prints ns per call
//	demo overmount DIR FILE TEXT   mount a tmpfs over DIR and write TEXT to DIR/FILE
//	                               (needs CAP_SYS_ADMIN: a container faking its /proc)
//	demo escape PATH               try the chroot breakout (chroot into a new dir, climb
//	                               "..", chroot there; needs CAP_SYS_CHROOT), then print
//	                               "escaped" (exit 1) if PATH exists, else "contained"
//
// Long-running modes (sleep, serve, echo-*, alloc, spin) exit 0 promptly on
// SIGTERM; the global flag --sigterm=ignore makes them ignore it instead
// (for grace-period tests), --sigterm=exit keeps the default, --sigterm=log
// prints "waiting for a stop signal" once it can take one, then "got
// SIGTERM" (or SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2: the stop signal a
// test set) before it exits 0; --then-sleep
// sleeps after a sub-command that ends (write, read, ps, ...) instead of
// exiting, so a pod's container keeps running; --mark-term=PATH,TEXT[,DELAY]
// makes SIGTERM wait DELAY, then append a line TEXT to PATH before the exit
// (the order in which a pod's containers were stopped); --delay=DURATION
// waits before the sub-command (a hook that takes a while, then acts);
// --after=PATH waits until PATH exists (a hook that acts only once its
// container wrote PATH, so after the container's signal handlers are set);
// --out=PATH appends the sub-command's output to PATH instead of stdout (a
// hook that prints into its container's log: /proc/1/fd/1). Global flags
// come before the sub-command: `demo --sigterm=ignore sleep`.
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	args := os.Args[1:]
	sigterm, mark := "exit", ""
	thenSleep := false
	for len(args) > 0 && strings.HasPrefix(args[0], "--") {
		if args[0] == "--then-sleep" {
			thenSleep = true
			args = args[1:]
			continue
		}
		if v, ok := strings.CutPrefix(args[0], "--delay="); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				fail(fmt.Errorf("--delay: %w", err))
			}
			time.Sleep(d)
			args = args[1:]
			continue
		}
		if v, ok := strings.CutPrefix(args[0], "--after="); ok {
			waitForFile(v)
			args = args[1:]
			continue
		}
		if v, ok := strings.CutPrefix(args[0], "--out="); ok {
			f, err := os.OpenFile(v, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				fail(fmt.Errorf("--out: %w", err))
			}
			os.Stdout = f
			args = args[1:]
			continue
		}
		if v, ok := strings.CutPrefix(args[0], "--mark-term="); ok {
			mark = v
			args = args[1:]
			continue
		}
		if !strings.HasPrefix(args[0], "--sigterm") {
			fail(fmt.Errorf("unknown flag %s", args[0]))
		}
		v, ok := strings.CutPrefix(args[0], "--sigterm=")
		if !ok {
			if len(args) < 2 {
				fail(errors.New("--sigterm needs a value"))
			}
			v, args = args[1], args[1:]
		}
		sigterm = v
		args = args[1:]
	}
	if len(args) == 0 {
		fail(errors.New("usage: demo [--sigterm=ignore|exit|log] MODE [ARGS...]"))
	}
	if err := handleSignals(sigterm, mark); err != nil {
		fail(err)
	}
	if err := run(args[0], args[1:]); err != nil {
		fail(err)
	}
	for thenSleep {
		time.Sleep(time.Hour)
	}
}

// waitForFile polls until path exists (another container of the pod is
// expected to write it).
func waitForFile(path string) {
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publish writes text to a temporary file beside path and renames it into
// place, so a wait-read in another container never sees the file created
// but still empty.
func publish(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// markTerm waits DELAY, then appends a line TEXT to PATH (mark is
// PATH,TEXT[,DELAY]).
func markTerm(mark string) error {
	parts := strings.Split(mark, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("--mark-term=%q: want PATH,TEXT[,DELAY]", mark)
	}
	if len(parts) == 3 {
		d, err := time.ParseDuration(parts[2])
		if err != nil {
			return fmt.Errorf("--mark-term delay: %w", err)
		}
		time.Sleep(d)
	}
	f, err := os.OpenFile(parts[0], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, parts[1]); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(2)
}

// handleSignals installs the SIGTERM behaviour. As PID 1 of a pid namespace
// the kernel ignores SIGTERM unless a handler exists, so "exit" needs one.
// mark is --mark-term's PATH,TEXT[,DELAY], or "".
func handleSignals(mode, mark string) error {
	switch mode {
	case "ignore":
		signal.Ignore(syscall.SIGTERM)
	case "exit":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		go func() {
			<-ch
			if mark != "" {
				if err := markTerm(mark); err != nil {
					fail(err)
				}
			}
			os.Exit(0)
		}()
	case "log":
		names := map[os.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
			syscall.SIGHUP: "SIGHUP", syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2"}
		ch := make(chan os.Signal, 1)
		for sig := range names {
			signal.Notify(ch, sig)
		}
		go func() {
			fmt.Println("got", names[<-ch])
			os.Exit(0)
		}()
		fmt.Println("waiting for a stop signal")
	default:
		return fmt.Errorf("--sigterm=%q: want ignore, exit or log", mode)
	}
	return nil
}

func run(mode string, args []string) error {
	switch mode {
	case "sleep":
		return sleep(args)
	case "serve":
		return serve(args)
	case "write", "publish", "append":
		if len(args) != 2 {
			return fmt.Errorf("usage: %s PATH TEXT", mode)
		}
		if err := os.MkdirAll(filepath.Dir(args[0]), 0o755); err != nil {
			return err
		}
		switch mode {
		case "publish":
			return publish(args[0], args[1])
		case "append":
			f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				return err
			}
			if _, err := f.WriteString(args[1]); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
		return os.WriteFile(args[0], []byte(args[1]), 0o644)
	case "read", "wait-read":
		if len(args) != 1 {
			return errors.New("usage: read PATH")
		}
		if mode == "wait-read" {
			waitForFile(args[0])
		}
		b, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n') // a log line is complete only with its newline
		}
		_, err = os.Stdout.Write(b)
		return err
	case "env":
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
		return nil
	case "exit":
		n, err := intArg(args, "exit N")
		if err != nil {
			return err
		}
		os.Exit(n)
		return nil
	case "remove":
		if len(args) != 1 {
			return errors.New("usage: remove PATH")
		}
		return os.Remove(args[0])
	case "grpc-health":
		return grpcHealth(args)
	case "echo-tcp":
		return echoTCP(args)
	case "echo-udp":
		return echoUDP(args)
	case "dial":
		return dial(args)
	case "alloc":
		return alloc(args)
	case "spin":
		for {
		}
	case "print-lines":
		n, err := intArg(args, "print-lines N")
		if err != nil {
			return err
		}
		w := bufio.NewWriter(os.Stdout)
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "line %d\n", i)
		}
		return w.Flush()
	case "tick":
		return tick(args)
	case "ps":
		return ps()
	case "id":
		return id()
	case "tty":
		return tty()
	case "shell":
		return shell()
	case "self":
		return self()
	case "open":
		return openFile(args)
	case "mknod":
		return mknod(args)
	case "syscalls":
		return syscalls()
	case "getpid":
		n, err := intArg(args, "getpid N")
		if err != nil {
			return err
		}
		start := time.Now()
		for range n {
			syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		}
		fmt.Printf("getpid: %d calls, %.1f ns each\n", n, float64(time.Since(start).Nanoseconds())/float64(max(n, 1)))
		return nil
	case "overmount":
		return overmount(args)
	case "escape":
		return escape(args)
	case "hostname":
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		fmt.Println(h)
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

func intArg(args []string, usage string) (int, error) {
	if len(args) != 1 {
		return 0, fmt.Errorf("usage: %s", usage)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return 0, fmt.Errorf("usage: %s: %w", usage, err)
	}
	return n, nil
}

func sleep(args []string) error {
	if len(args) == 0 {
		sleepForever()
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		// Accept plain seconds like sleep(1): "5", "0.5".
		s, serr := strconv.ParseFloat(args[0], 64)
		if serr != nil {
			return fmt.Errorf("sleep %q: %w", args[0], err)
		}
		d = time.Duration(s * float64(time.Second))
	}
	time.Sleep(d)
	return nil
}

func serve(args []string) error {
	unhealthyFile, host, certFile, keyFile := "", "", "", ""
	var ports []string
	selfSigned, anyPath := false, false
	var healthyAt time.Time
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--port" && i+1 < len(args):
			ports = append(ports, args[i+1])
			i++
		case strings.HasPrefix(a, "--port="):
			ports = append(ports, strings.TrimPrefix(a, "--port="))
		case a == "--any-path":
			anyPath = true
		case a == "--unhealthy-file" && i+1 < len(args):
			unhealthyFile = args[i+1]
			i++
		case a == "--healthy-after" && i+1 < len(args):
			d, err := time.ParseDuration(args[i+1])
			if err != nil {
				return fmt.Errorf("serve: --healthy-after: %w", err)
			}
			healthyAt = time.Now().Add(d)
			i++
		case a == "--host" && i+1 < len(args):
			host = args[i+1]
			i++
		case a == "--tls":
			selfSigned = true
		case a == "--tls-cert" && i+1 < len(args):
			certFile = args[i+1]
			i++
		case a == "--tls-key" && i+1 < len(args):
			keyFile = args[i+1]
			i++
		default:
			return fmt.Errorf("serve: unknown argument %q", a)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		h, _ := os.Hostname()
		fmt.Fprintf(w, "hello from %s\n", h)
	})
	health := func(w http.ResponseWriter, _ *http.Request) {
		if _, err := os.Stat(unhealthyFile); (unhealthyFile != "" && err == nil) || time.Now().Before(healthyAt) {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	}
	// The paths the control plane's components answer probes on.
	for _, path := range []string{"/healthz", "/livez", "/readyz", "/health"} {
		mux.HandleFunc(path, health)
	}
	if anyPath {
		mux.HandleFunc("/", health)
	}
	mux.HandleFunc("/log", func(_ http.ResponseWriter, r *http.Request) {
		fmt.Printf("GET %s X-Hook=%s\n", r.URL.RequestURI(), r.Header.Get("X-Hook"))
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		for _, e := range os.Environ() {
			fmt.Fprintln(w, e)
		}
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	})
	if len(ports) == 0 {
		ports = []string{"8080"}
	}
	var cfg *tls.Config
	if selfSigned {
		cert, err := selfSignedCert()
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	errs := make(chan error, len(ports))
	for _, port := range ports {
		srv := &http.Server{Addr: net.JoinHostPort(host, port), Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: cfg}
		go func() {
			if certFile != "" || keyFile != "" || cfg != nil {
				errs <- srv.ListenAndServeTLS(certFile, keyFile)
				return
			}
			errs <- srv.ListenAndServe()
		}()
	}
	return <-errs
}

// selfSignedCert makes a certificate for localhost and 127.0.0.1 signed by
// its own key, as a server that was given none makes one (kube-scheduler's
// serving certificate).
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-sign certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// grpcHealth serves grpc.health.v1.Health/Check over h2c, its wire format
// written by hand (the demo links nothing but the standard library): one
// length-prefixed message, HealthCheckResponse{status}, then the
// grpc-status trailer.
func grpcHealth(args []string) error {
	port, err := intArg(args, "grpc-health PORT")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /grpc.health.v1.Health/Check", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		status := byte(1) // SERVING
		if _, err := os.Stat("/tmp/grpc-unhealthy"); err == nil {
			status = 2 // NOT_SERVING
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		// Compressed flag, length 2, then field 1 (varint) = status.
		w.Write([]byte{0, 0, 0, 0, 2, 0x08, status})
		w.Header().Set("Grpc-Status", "0")
	})
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Addr: ":" + strconv.Itoa(port), Handler: mux, Protocols: &protos, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

func echoTCP(args []string) error {
	port, err := intArg(args, "echo-tcp PORT")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

func echoUDP(args []string) error {
	port, err := intArg(args, "echo-udp PORT")
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	buf := make([]byte, 64*1024)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if _, err := pc.WriteTo(buf[:n], addr); err != nil {
			return err
		}
	}
}

// dial sends MSG plus a newline to a TCP echo server and prints the first
// reply line.
func dial(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: dial ADDR MSG")
	}
	c, err := net.DialTimeout("tcp", args[0], 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(c, args[1]); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	fmt.Print(line)
	return nil
}

func alloc(args []string) error {
	mib, err := intArg(args, "alloc MiB")
	if err != nil {
		return err
	}
	chunks := make([][]byte, 0, mib)
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		// Touch every page so the memory is really charged.
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		chunks = append(chunks, b)
	}
	fmt.Printf("allocated %d MiB\n", len(chunks))
	sleepForever()
	return nil
}

// sleepForever blocks without a busy loop. A bare select{} would trip the
// runtime's deadlock detector when no signal handler goroutine exists.
// tick prints "tick N", N from 1, every INTERVAL, forever: a log whose
// every line says whether one was lost.
func tick(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: tick INTERVAL")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		return fmt.Errorf("tick %q: %w", args[0], err)
	}
	for i := 1; ; i++ {
		fmt.Printf("tick %d\n", i)
		time.Sleep(d)
	}
}

func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}

func ps() error {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	for _, pid := range pids {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue // the process exited meanwhile
		}
		fmt.Printf("%d %s\n", pid, strings.TrimSpace(string(comm)))
	}
	return nil
}

// id prints the credential lines of /proc/self/status, e.g.
// "Uid: 1000 1000 1000 1000" and "CapEff: 00000000a80425fb".
func id() error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []string{"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:"} {
			if strings.HasPrefix(line, k) {
				fmt.Println(strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return sc.Err()
}

// shell answers the lines it reads, for attach tests: what a debug pod's
// shell does, in a few lines.
func shell() error {
	sc := bufio.NewScanner(os.Stdin)
	for {
		fmt.Print("demo$ ")
		if !sc.Scan() {
			break
		}
		switch line := strings.TrimSpace(sc.Text()); line {
		case "exit":
			return nil
		case "tty":
			if err := tty(); err != nil {
				return err
			}
		default:
			fmt.Println("you said:", line)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Println("\nstdin: EOF")
	return nil
}

// tty prints "tty: yes NAME" and "size: ROWSxCOLS" when stdin is a
// terminal (TCGETS succeeds), else "tty: no".
func tty() error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TCGETS, uintptr(unsafe.Pointer(&syscall.Termios{}))); errno != 0 {
		fmt.Println("tty: no")
		return nil
	}
	name, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		return err
	}
	fmt.Println("tty: yes", name)
	var ws [4]uint16 // struct winsize: rows, cols, xpixel, ypixel
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, 0, syscall.TIOCGWINSZ, uintptr(unsafe.Pointer(&ws))); errno != 0 {
		return errno
	}
	fmt.Printf("size: %dx%d\n", ws[0], ws[1])
	return nil
}

// self prints this process's namespaces ("ns net net:[4026531840]") and
// cgroups ("cgroup 4:memory:/berth/pod/c"), to compare with another
// process's from outside.
func self() error {
	for _, ns := range []string{"cgroup", "ipc", "mnt", "net", "pid", "uts"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			return err
		}
		fmt.Println("ns", ns, l)
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fmt.Println("cgroup", line)
	}
	return nil
}

// openFile opens a file, a device node above all, without reading it:
// O_NOCTTY and O_NONBLOCK keep a terminal or a slow device from changing
// anything or blocking.
func openFile(args []string) error {
	if len(args) < 1 || len(args) > 2 || len(args) == 2 && args[1] != "rw" {
		return errors.New("usage: open PATH [rw]")
	}
	flags := syscall.O_RDONLY
	if len(args) == 2 {
		flags = syscall.O_RDWR
	}
	fd, err := syscall.Open(args[0], flags|syscall.O_NOCTTY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", args[0], err)
	}
	fmt.Println("opened", args[0])
	return syscall.Close(fd)
}

// mknod creates a character (c) or block (b) device node.
func mknod(args []string) error {
	if len(args) != 4 || args[1] != "c" && args[1] != "b" {
		return errors.New("usage: mknod PATH c|b MAJOR MINOR")
	}
	major, err1 := strconv.ParseUint(args[2], 10, 12)
	minor, err2 := strconv.ParseUint(args[3], 10, 20)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("mknod %s: %w", args[0], err)
	}
	mode := uint32(syscall.S_IFCHR)
	if args[1] == "b" {
		mode = syscall.S_IFBLK
	}
	// The kernel's dev_t encoding (new_encode_dev) for 12-bit majors.
	dev := minor&0xff | major<<8 | (minor&^0xff)<<12
	if err := syscall.Mknod(args[0], mode|0o666, int(dev)); err != nil {
		return fmt.Errorf("mknod %s: %w", args[0], err)
	}
	fmt.Println("created", args[0])
	return nil
}

// syscalls prints the Seccomp line of /proc/self/status ("Seccomp: 2" is
// a filter) and tries the calls Docker's default profile refuses, one line
// each: "keyctl: ok" or "keyctl: EPERM (operation not permitted)". The
// arguments make the kernel itself fail most of them with another errno,
// so that EPERM points at the filter.
func syscalls() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Seccomp:") {
			fmt.Println(strings.Join(strings.Fields(line), " "))
		}
	}
	// Numbers the frozen syscall package lacks: io_uring_setup is 425
	// everywhere; bpf differs.
	const ioUringSetup = 425
	sysBPF := map[string]uintptr{"amd64": 321, "arm64": 280}[runtime.GOARCH]
	var ioParams [120]byte // struct io_uring_params
	var perfAttr [128]byte // struct perf_event_attr, size field 1: E2BIG
	perfAttr[4] = 1
	calls := []struct {
		name string
		call func() (uintptr, syscall.Errno)
	}{
		{"keyctl", func() (uintptr, syscall.Errno) {
			// KEYCTL_GET_KEYRING_ID of the session keyring (-3), no create.
			r, _, e := syscall.Syscall(syscall.SYS_KEYCTL, 0, ^uintptr(2), 0)
			return r, e
		}},
		{"io_uring_setup", func() (uintptr, syscall.Errno) {
			r, _, e := syscall.Syscall(ioUringSetup, 1, uintptr(unsafe.Pointer(&ioParams)), 0)
			return r, e
		}},
		{"socket(AF_VSOCK)", func() (uintptr, syscall.Errno) {
			r, _, e := syscall.Syscall(syscall.SYS_SOCKET, 40, syscall.SOCK_STREAM, 0)
			return r, e
		}},
		{"unshare(CLONE_NEWUSER)", func() (uintptr, syscall.Errno) {
			// A multi-threaded process gets EINVAL from the kernel.
			r, _, e := syscall.Syscall(syscall.SYS_UNSHARE, syscall.CLONE_NEWUSER, 0, 0)
			return r, e
		}},
		{"bpf", func() (uintptr, syscall.Errno) {
			// BPF_MAP_CREATE with a zero-length attribute: EINVAL.
			r, _, e := syscall.Syscall(sysBPF, 0, 0, 0)
			return r, e
		}},
		{"perf_event_open", func() (uintptr, syscall.Errno) {
			r, _, e := syscall.Syscall6(syscall.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&perfAttr)), 0, ^uintptr(0), ^uintptr(0), 0, 0)
			return r, e
		}},
	}
	for _, c := range calls {
		r, e := c.call()
		if e != 0 {
			fmt.Printf("%s: %s (%v)\n", c.name, errnoName(e), e)
			continue
		}
		if c.name != "keyctl" {
			syscall.Close(int(r))
		}
		fmt.Printf("%s: ok\n", c.name)
	}
	return nil
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EPERM:
		return "EPERM"
	case syscall.ENOSYS:
		return "ENOSYS"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.EACCES:
		return "EACCES"
	case syscall.E2BIG:
		return "E2BIG"
	case syscall.EAFNOSUPPORT:
		return "EAFNOSUPPORT"
	case syscall.EFAULT:
		return "EFAULT"
	}
	return fmt.Sprintf("errno %d", int(e))
}

// overmount hides DIR under a fresh tmpfs holding only FILE with TEXT, as a
// container with CAP_SYS_ADMIN can do to its own /proc/sys/kernel.
func overmount(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: overmount DIR FILE TEXT")
	}
	if err := syscall.Mount("tmpfs", args[0], "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", args[0], err)
	}
	return os.WriteFile(filepath.Join(args[0], args[1]), []byte(args[2]+"\n"), 0o644)
}

func escape(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: escape PATH")
	}
	if err := os.MkdirAll("/escape-dir", 0o755); err != nil {
		return err
	}
	if err := syscall.Chroot("/escape-dir"); err != nil {
		return fmt.Errorf("chroot /escape-dir: %w", err)
	}
	// The cwd stayed outside the new root, so ".." is not stopped at it.
	for range 64 {
		if err := syscall.Chdir(".."); err != nil {
			return err
		}
	}
	if err := syscall.Chroot("."); err != nil {
		return fmt.Errorf("chroot .: %w", err)
	}
	if _, err := os.Stat(args[0]); err == nil {
		fmt.Println("escaped")
		os.Exit(1)
	}
	fmt.Println("contained")
	return nil
}
