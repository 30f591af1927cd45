package app

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/config"
)

// One data_dir, one process. `wirebridge serve` (and `replay`) holds an
// exclusive flock(2) on data_dir/wirebridge.lock for as long as it runs, so a
// second process never opens the same JetStream store (which would deliver
// everything stored twice) nor writes into the same archives. The lock file
// holds the holder's pid and, once it listens, its HTTP address: the error
// for a second serve names the pid, and `wirebridge dlq` finds the running
// instance's API there.
//
// The kernel releases a flock when its holder exits, however it exits (kill
// -9 included): a lock file left behind never blocks a restart. The file is
// never removed (removing it would let two processes lock two different
// files of the same name).

// lockFileName is the lock file's name inside data_dir.
const lockFileName = "wirebridge.lock"

// dataLock is a held lock on a data directory.
type dataLock struct {
	dir  string // the data directory, absolute
	f    *os.File
	http string // the HTTP address written into the file ("" until set)
}

// lockHolder describes the process holding a data directory's lock.
type lockHolder struct {
	Pid  int    // 0 when unknown
	HTTP string // the holder's HTTP address, "" when it has none
}

// errLocked is wrapped by lockDataDir's error when another process holds the lock.
var errLocked = errors.New("data_dir is in use")

// lockedError is the error for a data directory another process holds.
type lockedError struct {
	Dir    string
	Holder lockHolder
}

func (e *lockedError) Error() string {
	who := "another process"
	if e.Holder.Pid > 0 {
		who = "process " + strconv.Itoa(e.Holder.Pid)
	}
	return fmt.Sprintf("data_dir %s is in use by %s (lock file %s): one data_dir serves one wirebridge process; stop that one or give this one another data_dir",
		e.Dir, who, filepath.Join(e.Dir, lockFileName))
}

func (e *lockedError) Is(target error) bool { return target == errLocked }

// lockDataDir creates dir when missing and takes its lock without waiting.
// Another holder gives a *lockedError naming its pid; a directory that cannot
// hold the lock file (read-only, not writable, not a directory) gives an
// error naming the directory and the reason.
func lockDataDir(dir string) (*dataLock, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("data_dir %s: cannot create it: %w", abs, err)
	}
	path := filepath.Join(abs, lockFileName)
	// O_NOFOLLOW: whoever can write in data_dir must not make this process
	// empty another file through a symlink of the lock file's name.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o640)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("data_dir %s: the lock file %s is a symlink (wirebridge never makes one): remove it", abs, path)
	}
	if err != nil {
		return nil, fmt.Errorf("data_dir %s: cannot create the lock file (the directory must be writable): %w", abs, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("data_dir %s: the lock file %s is not a regular file: remove it", abs, path)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &lockedError{Dir: abs, Holder: readLockHolder(path)}
		}
		return nil, fmt.Errorf("data_dir %s: lock %s: %w", abs, path, err)
	}
	l := &dataLock{dir: abs, f: f}
	if err := l.write(); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// setHTTP records the holder's HTTP address in the lock file.
func (l *dataLock) setHTTP(addr string) error {
	l.http = addr
	return l.write()
}

func (l *dataLock) write() error {
	content := "pid=" + strconv.Itoa(os.Getpid()) + "\n"
	if l.http != "" {
		content += "http=" + l.http + "\n"
	}
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("data_dir %s: write the lock file: %w", l.dir, err)
	}
	if _, err := l.f.WriteAt([]byte(content), 0); err != nil {
		return fmt.Errorf("data_dir %s: write the lock file: %w", l.dir, err)
	}
	return nil
}

// release empties the lock file (its pid is no longer running it) and
// releases the lock. Safe on nil.
func (l *dataLock) release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Truncate(0)
	l.f.Close() // closing the only descriptor releases the flock
	l.f = nil
}

// readLockHolder reads the pid and HTTP address a holder wrote into the lock
// file. When the file does not name a pid yet (the holder is between taking
// the lock and writing it), the pid comes from /proc/locks.
func readLockHolder(path string) lockHolder {
	var h lockHolder
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
			switch k {
			case "pid":
				h.Pid, _ = strconv.Atoi(v)
			case "http":
				h.HTTP = v
			}
		}
	}
	if h.Pid == 0 {
		h.Pid = flockHolder(path)
	}
	return h
}

// flockHolder finds the pid holding a flock on path in /proc/locks, 0 when
// none is found.
func flockHolder(path string) int {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer f.Close()
	// 1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF
	want := fmt.Sprintf(":%d", st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[1] != "FLOCK" { // "->" lines are waiters
			continue
		}
		if strings.HasSuffix(fs[5], want) {
			if pid, err := strconv.Atoi(fs[4]); err == nil {
				return pid
			}
		}
	}
	return 0
}

// usesDataDir reports whether a configuration keeps anything in data_dir:
// the embedded JetStream store, the share key file of live channels, or
// file/pcap targets with relative paths. Such a process holds the lock.
func usesDataDir(c *config.Config) bool {
	if c.NATS.Embedded && needsBus(c) {
		return true
	}
	prefix := filepath.Clean(c.DataDir) + string(os.PathSeparator)
	for i := range c.Targets {
		t := &c.Targets[i]
		if _, live := t.Spec.(component.LiveChannel); live && !c.Live.ShareKey.IsSet() {
			return true
		}
		if o, ok := t.Spec.(component.Output); ok && strings.HasPrefix(filepath.Clean(string(*o.OutputPath())), prefix) {
			return true
		}
	}
	return false
}
