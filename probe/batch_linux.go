package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The batcher runs the plain TCP exchanges of http and tcp probes (no
// TLS, an IP address, a NetnsDialer) for the whole daemon on one goroutine
// with an epoll of its own: each socket is made in its pod's namespace
// (the goroutine's thread locked for the setns, socket(2), setns only),
// connected, written and read without registering it with Go's poller,
// its deadline kept by the wait's, and the result handed to the probe's
// callback. The goroutine waits for its epoll through Go's poller (the
// epoll's own descriptor is the one registered), so that while it waits
// no thread sleeps in a system call and the runtime rests. So the probes
// due at one wake-up of the runners' grid cost no goroutine, timer or
// poller registration each. The goroutine is started by the first job and
// waits for the next when it has none (with no deadline: no wake-up).
type batcher struct {
	mu    sync.Mutex
	queue []*exchangeJob
	// running: a goroutine serves the queue; waiting: it waits for its
	// epoll and a new job must wake it through wake.
	running, waiting bool
	// ep (the epoll, non-blocking, in Go's poller) and wake (an eventfd in
	// it) are made by the first job and kept for the daemon's life.
	ep         *os.File
	epfd, wake int
	err        error
}

var batch batcher

// exchangeJob is one connection of a probe: dial sa (raddr) from d's
// namespace, write request (none: a tcp probe, done once connected), read
// until complete says the response is whole, close with a reset.
type exchangeJob struct {
	d        *NetnsDialer
	family   int
	sa       unix.Sockaddr
	raddr    *net.TCPAddr
	request  []byte
	deadline time.Time
	ctx      context.Context
	// complete says whether data (with end: nil while more may come, or
	// the error reading ended with) is all the probe reads.
	complete func(data []byte, end error) bool
	// done receives the outcome, on the batcher's goroutine: err is a
	// dial or write error, else data and end as complete last saw them.
	done func(data []byte, end error, err error)

	fd    int
	state jobState
	// watched: fd is in the batcher's epoll.
	watched bool
	written int
	// buf holds what was read, in a buffer of readBufs (pooled) until it
	// outgrows it.
	buf    []byte
	pooled *[]byte
}

// readBufs holds the batcher's read buffers between probes: what is read
// is parsed (copied) by the probe's callback before its buffer goes back.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

type jobState int

const (
	jobConnecting jobState = iota
	jobWriting
	jobReading
)

// errMore is what a complete function's reader returns where the data
// read so far ends and more may come.
var errMore = errors.New("more to read")

// submit queues j and makes sure a goroutine serves it.
func (b *batcher) submit(j *exchangeJob) {
	b.mu.Lock()
	if b.err == nil && b.ep == nil {
		b.ep, b.epfd, b.wake, b.err = newEpoll()
	}
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		j.done(nil, nil, &net.OpError{Op: "dial", Net: "tcp", Addr: j.raddr, Err: err})
		return
	}
	j.fd = -1
	b.queue = append(b.queue, j)
	start, wake := !b.running, b.waiting
	b.running = true
	b.waiting = false
	b.mu.Unlock()
	switch {
	case start:
		go b.serve()
	case wake:
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(b.wake, one[:])
	}
}

// newEpoll makes the batcher's epoll, its file (whose Fd must not be
// called: that would make it blocking) and descriptor, and its eventfd.
func newEpoll() (*os.File, int, int, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, 0, 0, os.NewSyscallError("epoll_create1", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, 0, 0, os.NewSyscallError("eventfd", err)
	}
	err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)})
	if err == nil {
		err = unix.SetNonblock(epfd, true)
	}
	if err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, 0, 0, os.NewSyscallError("set up the probes' epoll", err)
	}
	return os.NewFile(uintptr(epfd), "probe epoll"), epfd, wake, nil
}

// serve runs the queued jobs as they come, for the daemon's life: with no
// job under way it waits for the next without a deadline, costing nothing.
// Its thread enters a pod's namespace for each socket(2) and
// returns to the daemon's; if a return fails, every job fails and the
// goroutine ends locked, so that Go ends the thread with it.
func (b *batcher) serve() {
	active := map[int32]*exchangeJob{}
	events := make([]unix.EpollEvent, 64)
	rc, err := b.ep.SyscallConn()
	if err != nil {
		b.failAll(nil, err)
		return
	}
	// gathered: the jobs under way have had their gathering pause since
	// the last wait or start.
	gathered := false
	for {
		b.mu.Lock()
		queued := b.queue
		b.queue = nil
		gather := len(queued) == 0 && len(active) > 0 && !gathered
		b.waiting = len(queued) == 0 && !gather
		b.mu.Unlock()
		for i, j := range queued {
			if err := b.start(j, active); err != nil {
				b.failAll(append(queued[i+1:], jobsOf(active)...), err)
				return // still locked: the thread ends with the goroutine
			}
		}
		if len(queued) > 0 {
			gathered = false
			continue
		}
		if gather {
			time.Sleep(min(gatherPause, waitFor(active)))
			gathered = true
			continue
		}
		b.watchReading(active)
		n := 0
		var werr error
		if len(active) == 0 {
			b.ep.SetReadDeadline(time.Time{})
		} else {
			b.ep.SetReadDeadline(time.Now().Add(waitFor(active)))
		}
		err := rc.Read(func(fd uintptr) bool {
			n, werr = unix.EpollWait(int(fd), events, 0)
			return werr != nil || n > 0
		})
		b.mu.Lock()
		b.waiting = false
		b.mu.Unlock()
		gathered = false
		if err == nil && werr != nil && werr != unix.EINTR {
			err = os.NewSyscallError("epoll_wait", werr)
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			b.failAll(jobsOf(active), err)
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == b.wake {
				var buf [8]byte
				unix.Read(b.wake, buf[:])
				continue
			}
			if j := active[ev.Fd]; j != nil {
				j.advance(active, true)
			}
		}
		now := time.Now()
		for _, j := range active {
			if !now.Before(j.deadline) {
				j.expire(active)
			} else if err := j.ctx.Err(); err != nil {
				j.finish(active, nil, nil, err)
			}
		}
	}
}

func jobsOf(active map[int32]*exchangeJob) []*exchangeJob {
	out := make([]*exchangeJob, 0, len(active))
	for _, j := range active {
		out = append(out, j)
	}
	return out
}

// failAll ends jobs with err after the thread could not return to the
// daemon's namespace; the next job starts a new goroutine.
func (b *batcher) failAll(jobs []*exchangeJob, err error) {
	b.mu.Lock()
	jobs = append(jobs, b.queue...)
	b.queue = nil
	b.running, b.waiting = false, false
	b.mu.Unlock()
	for _, j := range jobs {
		if j.fd >= 0 {
			unix.Close(j.fd)
		}
		j.done(nil, nil, j.dialError(err))
	}
}

// gatherPause is how long the batcher lets the replies to the jobs it
// started come in before it reads any: the probes due at one grid wake-up
// are read on one wake-up of the daemon, not one each.
const gatherPause = 10 * time.Millisecond

// waitFor is how long to wait for the epoll: until the earliest
// deadline, at most a second (a cancelled probe is seen within it).
func waitFor(active map[int32]*exchangeJob) time.Duration {
	wait := time.Second
	now := time.Now()
	for _, j := range active {
		wait = min(wait, j.deadline.Sub(now))
	}
	return max(wait, 0)
}

// start makes j's socket in its namespace and connects it. It returns an
// error only when the thread could not return to the daemon's namespace;
// any other failure ends j.
func (b *batcher) start(j *exchangeJob, active map[int32]*exchangeJob) error {
	fd, idle := j.d.takeIdle(j.family)
	if !idle {
		runtime.LockOSThread()
		var err, homeErr error
		fd, err, homeErr = j.d.socketHere(j.family)
		if homeErr != nil {
			return homeErr
		}
		runtime.UnlockOSThread()
		if err != nil {
			j.done(nil, nil, j.dialError(err))
			return nil
		}
		if err := resetOnClose(fd); err != nil {
			unix.Close(fd)
			j.done(nil, nil, j.dialError(err))
			return nil
		}
	}
	j.fd = fd
	switch err := unix.Connect(fd, j.sa); err {
	case nil:
		j.state = jobWriting
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		j.state = jobConnecting
	default:
		j.finish(nil, nil, nil, j.dialError(os.NewSyscallError("connect", err)))
		return nil
	}
	active[int32(fd)] = j
	// A connection inside the host is mostly made before connect returns:
	// the request goes at once.
	j.advance(active, false)
	if active[int32(fd)] == j && j.state != jobReading {
		b.watch(j, active)
	}
	return nil
}

// watch adds j's socket to the epoll, which tells of its every step from
// then on. A job waiting for its reply is added only after the gathering
// pause (watchReading): a socket in the epoll wakes the daemon's poller
// thread with each event, whether or not the batcher waits.
func (b *batcher) watch(j *exchangeJob, active map[int32]*exchangeJob) {
	if err := unix.EpollCtl(b.epfd, unix.EPOLL_CTL_ADD, j.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(j.fd)}); err != nil {
		j.finish(active, nil, nil, j.dialError(os.NewSyscallError("epoll_ctl", err)))
		return
	}
	j.watched = true
}

// watchReading reads what has come for the jobs not in the epoll yet,
// and adds those still waiting for their reply.
func (b *batcher) watchReading(active map[int32]*exchangeJob) {
	for fd, j := range active {
		if j.watched {
			continue
		}
		j.advance(active, true)
		if active[fd] == j {
			b.watch(j, active)
		}
	}
}

// advance moves j on as far as its socket lets it without waiting, up to
// the reply when read is false (the reply is read after the gathering
// pause). The socket is registered edge-triggered for both directions:
// each step runs until EAGAIN before the next wait.
func (j *exchangeJob) advance(active map[int32]*exchangeJob, read bool) {
	if j.state == jobConnecting {
		// A write says whether the connection is made, without a
		// getsockopt and getpeername: EAGAIN while the handshake goes on,
		// the connect's own error if it failed. A tcp probe writes
		// nothing.
		n, err := unix.Write(j.fd, j.request)
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		if err != nil {
			j.finish(active, nil, nil, j.dialError(os.NewSyscallError("connect", err)))
			return
		}
		j.written, j.state = n, jobWriting
	}
	if j.state == jobWriting {
		if j.request == nil {
			j.finish(active, nil, nil, nil)
			return
		}
		for j.written < len(j.request) {
			n, err := unix.Write(j.fd, j.request[j.written:])
			if err == unix.EAGAIN || err == unix.EINTR {
				return
			}
			if err != nil {
				j.finish(active, nil, nil, j.ioError("write", err))
				return
			}
			j.written += n
		}
		j.state = jobReading
	}
	if !read {
		return
	}
	if j.pooled == nil {
		j.pooled = readBufs.Get().(*[]byte)
		j.buf = (*j.pooled)[:0]
	}
	for {
		if len(j.buf) == cap(j.buf) {
			j.buf = append(j.buf, make([]byte, max(4096, cap(j.buf)))...)[:len(j.buf)]
		}
		n, err := unix.Read(j.fd, j.buf[len(j.buf):cap(j.buf)])
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			return
		case err != nil:
			j.finish(active, j.buf, j.ioError("read", err), nil)
			return
		case n == 0:
			j.finish(active, j.buf, io.EOF, nil)
			return
		}
		j.buf = j.buf[:len(j.buf)+n]
		if j.complete(j.buf, nil) {
			j.finish(active, j.buf, nil, nil)
			return
		}
	}
}

// expire ends j at its deadline: a dial or write is a timeout of the
// dial, a read one of the read, as Go's deadlines say them.
func (j *exchangeJob) expire(active map[int32]*exchangeJob) {
	if j.state == jobReading {
		j.finish(active, j.buf, j.ioError("read", os.ErrDeadlineExceeded), nil)
		return
	}
	j.finish(active, nil, nil, j.dialError(os.ErrDeadlineExceeded))
}

// finish ends j's connection with a reset and hands its outcome to done.
// After a clean exchange (the reply read whole, or a tcp probe's
// connection made) the socket is disconnected and kept by j's dialer for
// its next probe (putIdle); after anything else it is closed (SO_LINGER
// 0).
func (j *exchangeJob) finish(active map[int32]*exchangeJob, data []byte, end, err error) {
	if j.fd >= 0 {
		delete(active, int32(j.fd))
		if err == nil && (end == nil || end == io.EOF) {
			if j.watched {
				unix.EpollCtl(batch.epfd, unix.EPOLL_CTL_DEL, j.fd, nil)
			}
			j.d.putIdle(j.fd, j.family)
		} else {
			unix.Close(j.fd)
		}
		j.fd = -1
	}
	j.done(data, end, err)
	if j.pooled != nil {
		readBufs.Put(j.pooled)
		j.pooled, j.buf = nil, nil
	}
}

func (j *exchangeJob) dialError(err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: j.raddr, Err: err}
}

// ioError words a read or write error as the net package does: "read tcp
// 10.0.0.1:40000->10.0.0.5:8080: read: connection reset by peer".
func (j *exchangeJob) ioError(op string, err error) error {
	return netError(op, localAddr(j.fd), j.raddr, err)
}
