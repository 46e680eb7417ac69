package ptyio

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenSizeAndEOF(t *testing.T) {
	master, peer, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer peer.Close()
	if !IsTerminal(int(peer.Fd())) {
		t.Fatal("the peer is no terminal")
	}
	if err := SetWinsize(master, 24, 132); err != nil {
		t.Fatal(err)
	}
	if rows, cols, err := Winsize(int(peer.Fd())); err != nil || rows != 24 || cols != 132 {
		t.Fatalf("peer's size %dx%d, %v; want 24x132", rows, cols, err)
	}
	if c := EOFChar(master); c != 4 {
		t.Errorf("EOFChar = %d, want ^D (4), the default", c)
	}
}

func TestRawTermios(t *testing.T) {
	in := unix.Termios{Iflag: unix.ICRNL | unix.IXON, Oflag: unix.OPOST, Lflag: unix.ECHO | unix.ICANON | unix.ISIG, Cflag: unix.PARENB}
	raw := rawTermios(in)
	if raw.Iflag&(unix.ICRNL|unix.IXON) != 0 || raw.Oflag&unix.OPOST != 0 || raw.Lflag&(unix.ECHO|unix.ICANON|unix.ISIG) != 0 {
		t.Errorf("raw mode keeps line handling: %+v", raw)
	}
	if raw.Cflag&unix.CS8 == 0 || raw.Cflag&unix.PARENB != 0 || raw.Cc[unix.VMIN] != 1 {
		t.Errorf("raw mode is not 8-bit with reads of one byte: %+v", raw)
	}
}
