package infra

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/crilog"
)

// resetTerminationFile makes path an empty regular file a container of any
// user can write (the kubelet's file is 0666 too), without following a
// symlink at path. "" is a container without one.
func resetTerminationFile(path string) error {
	if path == "" {
		return nil
	}
	f, err := openRegular(path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chmod(0o666); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}

// openRegular opens path without following a symlink or blocking on a
// fifo, and refuses anything but a regular file.
func openRegular(path string, flags int) (*os.File, error) {
	fd, err := unix.Open(path, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

func (p *procsLinux) terminationMessage(c *ContainerConfig, logPath string, failed bool) string {
	if c.TerminationMessageFile != "" {
		msg, err := readHead(c.TerminationMessageFile, MaxTerminationMessage)
		if err != nil {
			p.log.Warn("termination message", "pod", p.cfg.Key, "container", c.Name, "err", err)
		}
		if msg != "" {
			return msg
		}
	}
	if !failed || c.TerminationMessagePolicy != TerminationMessageFallbackToLogs || logPath == "" {
		return ""
	}
	msg, err := crilog.Tail(logPath, MaxTerminationLogLines, MaxTerminationLogBytes)
	if err != nil {
		p.log.Warn("termination message from the log", "pod", p.cfg.Key, "container", c.Name, "err", err)
	}
	return msg
}

// readHead reads at most n bytes from the start of the regular file path.
func readHead(path string, n int64) (string, error) {
	f, err := openRegular(path, unix.O_RDONLY)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, n))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return string(b), nil
}
