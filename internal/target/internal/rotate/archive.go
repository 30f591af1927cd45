package rotate

import (
	"os"
	"sync"
	"time"
)

// Archive is the state the file and pcap targets keep around their rotating
// files: the mutex that serialises Send, Close and the background work, the
// closed flag, the names of the files created, the first error no Send
// reported (Close returns it), an optional background loop, and the
// finishing of rotated-away files off the Send path (Later). The zero value
// is ready to use; the methods marked "mu held" need the Archive locked.
type Archive struct {
	sync.Mutex
	closed bool
	files  []string
	stop   chan struct{}
	done   chan struct{}

	errMu sync.Mutex
	err   error

	later   sync.WaitGroup
	slots   chan struct{} // finishings in progress (at most MaxLater)
	lastEnd chan struct{} // closed when the newest finishing has ended
}

// MaxLater is how many rotated-away files may be finishing in the
// background at once; Later waits for a slot beyond that.
const MaxLater = 2

// Closed reports whether Close has been called; mu held.
func (a *Archive) Closed() bool { return a.closed }

// Created records the name of a file just created; mu held.
func (a *Archive) Created(name string) { a.files = append(a.files, name) }

// Removed forgets the name of a file created and deleted again; mu held.
func (a *Archive) Removed(name string) {
	for i, n := range a.files {
		if n == name {
			a.files = append(a.files[:i], a.files[i+1:]...)
			return
		}
	}
}

// Files returns the names of the files created, oldest first.
func (a *Archive) Files() []string {
	a.Lock()
	defer a.Unlock()
	return append([]string(nil), a.files...)
}

// Keep remembers err, unless an error is already kept, for Close to
// return. A nil err is ignored. It needs no lock.
func (a *Archive) Keep(err error) {
	if err == nil {
		return
	}
	a.errMu.Lock()
	if a.err == nil {
		a.err = err
	}
	a.errMu.Unlock()
}

// Later runs finish (completing a file the target has rotated away from:
// ending a compressed stream, flushing, fsync, close) in the background, so
// that a Send is not held up by it; finish owns that file's writers. The
// finishings run one at a time, in the order given; when MaxLater are in
// progress, Later waits for the oldest to end. A finishing's error is kept
// (Keep). Close waits for every finishing; mu held.
func (a *Archive) Later(finish func() error) {
	if a.slots == nil {
		a.slots = make(chan struct{}, MaxLater)
	}
	a.slots <- struct{}{}
	prev, end := a.lastEnd, make(chan struct{})
	a.lastEnd = end
	a.later.Add(1)
	go func() {
		defer a.later.Done()
		defer close(end)
		defer func() { <-a.slots }()
		if prev != nil {
			<-prev
		}
		a.Keep(finish())
	}()
}

// Wait waits until every finishing started by Later has ended.
func (a *Archive) Wait() { a.later.Wait() }

// Start runs tick every period in a goroutine, with the Archive locked and
// only while it is not closed, until Close. Call it at most once, before the
// Archive is shared.
func (a *Archive) Start(period time.Duration, tick func()) {
	a.stop = make(chan struct{})
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-tk.C:
			}
			a.Lock()
			if !a.closed {
				tick()
			}
			a.Unlock()
		}
	}()
}

// Close marks the Archive closed and calls finish with it locked, then stops
// the background loop and returns the kept error. Only the first call does
// anything; later ones return nil.
func (a *Archive) Close(finish func()) error {
	a.Lock()
	if a.closed {
		a.Unlock()
		return nil
	}
	a.closed = true
	finish()
	a.later.Wait()
	a.errMu.Lock()
	err := a.err
	a.errMu.Unlock()
	a.Unlock()
	if a.stop != nil {
		close(a.stop)
		<-a.done
	}
	return err
}

// Finish completes a file whose writers were flushed (or closed) with result
// err: it fsyncs f when sync is set and err is nil, then closes f. It returns
// the first error.
func Finish(f *os.File, err error, sync bool) error {
	if sync && err == nil {
		err = f.Sync()
	}
	if e := f.Close(); err == nil {
		err = e
	}
	return err
}
