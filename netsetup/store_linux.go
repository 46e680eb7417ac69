package netsetup

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/atomicfile"
)

// leaseStore keeps IP leases on disk like CNI host-local: one file per lease
// in dir, named by the IP and holding the podID, plus last_reserved_ip so
// allocation continues where it left off. An exclusive flock on dir/lock,
// held while the store is open, keeps a second daemon off the same state.
// It is not safe for concurrent use; Network serialises calls.
type leaseStore struct {
	dir  string
	pool addrRange
	lock *os.File
	byIP map[netip.Addr]string
	last netip.Addr
}

const (
	lockFile = "lock"
	lastFile = "last_reserved_ip"
)

// openStore locks dir (created 0700 if missing) and loads its leases. Files
// that are not an IPv4 address inside pool are not leases and are ignored.
func openStore(dir string, pool addrRange) (*leaseStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create IPAM dir %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open IPAM lock in %s: %w", dir, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrStateLocked, dir)
		}
		return nil, fmt.Errorf("lock IPAM dir %s: %w", dir, err)
	}
	// A daemon killed while it wrote a lease leaves the temp file behind.
	if err := atomicfile.RemoveStale(dir); err != nil {
		lock.Close()
		return nil, fmt.Errorf("IPAM: %w", err)
	}
	s := &leaseStore{dir: dir, pool: pool, lock: lock, byIP: map[netip.Addr]string{}}
	if err := s.load(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

func (s *leaseStore) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read IPAM dir %s: %w", s.dir, err)
	}
	for _, e := range entries {
		ip, err := netip.ParseAddr(e.Name())
		if err != nil || !e.Type().IsRegular() || !s.pool.contains(ip) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			return fmt.Errorf("read lease %s: %w", e.Name(), err)
		}
		s.byIP[ip] = strings.TrimSpace(string(data))
	}
	data, err := os.ReadFile(filepath.Join(s.dir, lastFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s in %s: %w", lastFile, s.dir, err)
	}
	// A missing or damaged last_reserved_ip only changes where the search starts.
	s.last, _ = netip.ParseAddr(strings.TrimSpace(string(data)))
	return nil
}

// lookup returns podID's lease.
func (s *leaseStore) lookup(podID string) (netip.Addr, bool) {
	for ip, id := range s.byIP {
		if id == podID {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// reserve returns podID's existing lease, or leases and records a new address.
func (s *leaseStore) reserve(podID string) (netip.Addr, error) {
	if ip, ok := s.lookup(podID); ok {
		return ip, nil
	}
	ip, err := nextFree(s.pool, s.last, s.byIP)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := atomicfile.Replace(filepath.Join(s.dir, ip.String()), []byte(podID), 0o600); err != nil {
		return netip.Addr{}, fmt.Errorf("write lease %s: %w", ip, err)
	}
	s.byIP[ip] = podID
	s.last = ip
	if err := atomicfile.Replace(filepath.Join(s.dir, lastFile), []byte(ip.String()), 0o600); err != nil {
		return netip.Addr{}, fmt.Errorf("record last reserved IP %s: %w", ip, err)
	}
	return ip, nil
}

// release removes the lease of ip; a lease already gone is not an error.
func (s *leaseStore) release(ip netip.Addr) error {
	err := os.Remove(filepath.Join(s.dir, ip.String()))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove lease %s: %w", ip, err)
	}
	delete(s.byIP, ip)
	return nil
}

// releasePod removes every lease held by podID.
func (s *leaseStore) releasePod(podID string) error {
	var errs []error
	for ip, id := range s.byIP {
		if id == podID {
			errs = append(errs, s.release(ip))
		}
	}
	return errors.Join(errs...)
}

// snapshot returns a copy of the leases by IP.
func (s *leaseStore) snapshot() map[netip.Addr]string {
	out := make(map[netip.Addr]string, len(s.byIP))
	for ip, id := range s.byIP {
		out[ip] = id
	}
	return out
}

// close drops the lock.
func (s *leaseStore) close() error {
	if err := s.lock.Close(); err != nil {
		return fmt.Errorf("close IPAM lock in %s: %w", s.dir, err)
	}
	return nil
}
