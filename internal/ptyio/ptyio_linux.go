// Package ptyio holds the pseudo-terminal helpers `berth exec -t`,
// `berth attach -t` and the infra (a container with tty: true) share:
// allocating a pty, raw mode for the caller's terminal, window sizes.
package ptyio

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Open allocates a pseudo-terminal: the master for the caller, the
// peer (slave) for the command. The peer is opened through the master
// (TIOCGPTPEER), not by a /dev/pts path another process could swap.
func Open() (master, peer *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	// O_NONBLOCK lets the runtime poll the master, so reads take deadlines.
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	p, err := openPeer(m)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, os.NewFile(uintptr(p), "pty"), nil
}

func openPeer(m int) (int, error) {
	flags := unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC
	p, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, uintptr(flags))
	if errno == 0 {
		return int(p), nil
	}
	if !errors.Is(errno, unix.EINVAL) && !errors.Is(errno, unix.ENOTTY) {
		return -1, fmt.Errorf("open pty peer: %w", errno)
	}
	// Kernels before 4.13: the peer by its number.
	n, err := unix.IoctlGetInt(m, unix.TIOCGPTN)
	if err != nil {
		return -1, fmt.Errorf("get pty number: %w", err)
	}
	path := "/dev/pts/" + strconv.Itoa(n)
	fd, err := unix.Open(path, flags, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", path, err)
	}
	return fd, nil
}

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// MakeRaw puts the terminal fd in raw mode (cfmakeraw) and returns the
// function that restores its previous mode.
func MakeRaw(fd int) (restore func() error, err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("read terminal mode: %w", err)
	}
	raw := rawTermios(*old)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("set raw terminal mode: %w", err)
	}
	return func() error { return unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// rawTermios is cfmakeraw(3): no echo, no line editing, no signals from
// keys, 8-bit bytes through unchanged; the command's own terminal (the
// pty) does all of that instead.
func rawTermios(t unix.Termios) unix.Termios {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return t
}

// CopyWinsize gives the pty master the window size of the terminal from.
func CopyWinsize(from int, master *os.File) error {
	ws, err := unix.IoctlGetWinsize(from, unix.TIOCGWINSZ)
	if err != nil {
		return fmt.Errorf("read window size: %w", err)
	}
	return SetWinsize(master, ws.Row, ws.Col)
}

// Winsize reads the window size of the terminal fd.
func Winsize(fd int) (rows, cols uint16, err error) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0, fmt.Errorf("read window size: %w", err)
	}
	return ws.Row, ws.Col, nil
}

// SetWinsize sets the window size of the pty master, which sends
// SIGWINCH to the foreground process group of its terminal.
func SetWinsize(master *os.File, rows, cols uint16) error {
	ws := &unix.Winsize{Row: rows, Col: cols}
	// Not master.Fd(): that would put the master back in blocking mode.
	rc, err := master.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("set window size: %w", serr)
	}
	return nil
}

// EOFChar is the end-of-file character (VEOF, ^D unless changed) of the
// pty master's terminal: written at the start of a line, a reader on the
// peer in canonical mode sees end of file.
func EOFChar(master *os.File) byte {
	const ctrlD = 4
	rc, err := master.SyscallConn()
	if err != nil {
		return ctrlD
	}
	var t *unix.Termios
	var terr error
	if err := rc.Control(func(fd uintptr) { t, terr = unix.IoctlGetTermios(int(fd), unix.TCGETS) }); err != nil || terr != nil || t.Cc[unix.VEOF] == 0 {
		return ctrlD
	}
	return t.Cc[unix.VEOF]
}
