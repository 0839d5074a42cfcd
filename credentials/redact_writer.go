package credentials

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// maxPending bounds how much of an unfinished line a Writer holds. Past it,
// all but the holdback is redacted and written, so that a stream without
// newlines neither grows without limit nor stalls.
const maxPending = 64 << 10

// Writer is an io.Writer that redacts everything written through it before
// passing it on: the guard around stdout, stderr and the audit file.
//
// A key may arrive split across two writes, so redaction cannot work write
// by write. Complete lines — everything up to the last '\n' written — are
// redacted and passed on at once, since one JSON-RPC message or one log line
// must not wait for the next. The unfinished rest is held back until its
// line ends, [Writer.Flush] or [Writer.Close] is called, or it exceeds
// 64 KiB; then all of it is written except a tail long enough to hold any
// match still arriving, and never cutting through a match. (Two limits
// follow. A key split across two lines written separately is not joined:
// the first line has already gone. And the tail is sized for one layer of
// escaping, so a key escaped two or three times over, in a line longer than
// 64 KiB, can be cut.)
//
// Writer is safe for concurrent use; writes are passed on in the order they
// were made. The Writer does not close the writer it wraps.
type Writer struct {
	r *Redactor
	w io.Writer

	mu     sync.Mutex
	buf    []byte // held: buf[done:] is not yet passed on
	done   int    // buf[:done] was passed on and is kept as context only
	err    error  // sticky: the first error from w
	closed bool
}

// NewWriter returns a Writer that redacts with r and passes the result to
// w. The caller must Close (or Flush) it to pass on an unfinished last line.
// Secrets added to r later are redacted from then on.
func (r *Redactor) NewWriter(w io.Writer) *Writer {
	return &Writer{r: r, w: w}
}

// Write redacts and passes on every complete line of p, together with any
// unfinished line held from earlier writes, and holds the rest. It returns
// len(p) when p was accepted, although a different number of bytes may reach
// the wrapped writer; it returns 0 and the error once the wrapped writer has
// failed or the Writer is closed.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(p, '\n')
	if i >= 0 {
		var err error
		if len(w.buf) == 0 {
			err = w.emit(w.r.Redact(p[:i+1]))
		} else {
			w.buf = append(w.buf, p[:i+1]...)
			err = w.emit(w.redactRest())
		}
		if err != nil {
			return 0, err
		}
		w.buf, w.done = append(w.buf[:0], p[i+1:]...), 0
	} else {
		w.buf = append(w.buf, p...)
	}
	if len(w.buf)-w.done > maxPending {
		if err := w.emitPart(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush redacts and passes on everything held, finished line or not.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.flush()
}

// Close flushes the Writer and makes later writes fail. It does not close
// the wrapped writer, which belongs to the caller. Closing twice is
// harmless.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	var err error
	if w.err == nil {
		err = w.flush()
	}
	w.closed = true
	return err
}

// usable returns why the Writer cannot take more, or nil.
func (w *Writer) usable() error {
	if w.closed {
		return fmt.Errorf("writing through redactor: %w", os.ErrClosed)
	}
	return w.err
}

func (w *Writer) flush() error {
	if len(w.buf) == w.done {
		return nil
	}
	err := w.emit(w.redactRest())
	w.buf, w.done = w.buf[:0], 0
	return err
}

// redactRest returns buf[done:] redacted, with buf[:done] as context.
func (w *Writer) redactRest() []byte {
	if w.done == 0 {
		return w.r.Redact(w.buf)
	}
	st := w.r.current()
	if st == nil {
		return w.buf[w.done:]
	}
	sc := st.scratch()
	defer st.keep(sc)
	return w.applyFrom(st, st.spans(w.buf, sc), len(w.buf))
}

// applyFrom returns buf[done:end] with the spans in it replaced. A span
// cannot reach back into buf[:done], which was held back long enough for
// any match to be seen whole; if one did, its part already passed on
// could not be recalled anyway.
func (w *Writer) applyFrom(st *redactState, ss []redactSpan, end int) []byte {
	for len(ss) > 0 && ss[0].end <= w.done {
		ss = ss[1:]
	}
	if len(ss) > 0 && ss[0].start < w.done {
		ss[0].start = w.done
	}
	for i := range ss {
		ss[i].start -= w.done
		ss[i].end -= w.done
	}
	out := w.buf[w.done:end]
	if len(ss) == 0 {
		return out
	}
	return st.apply(out, ss)
}

// contextLen is how much of what was passed on a Writer keeps in front of
// what it holds: enough to decode an escape sequence or recognise a line
// break inside base64 at the start of what remains.
const contextLen = minBase64Line + 2*maxEscapeLen

// emitPart passes on all held bytes but the holdback. The cut is moved
// back to the start of any match it would split, and out of escape
// sequences and runs of backslashes, so that what remains decodes as it
// would have in one piece.
func (w *Writer) emitPart() error {
	st := w.r.current()
	if st == nil {
		return w.flush()
	}
	cut := len(w.buf) - st.holdback
	for moved := true; moved && cut > w.done; {
		c := cut
		for cut > w.done && w.buf[cut-1] == '\\' {
			cut--
		}
		if j := coveringEscape(w.buf, cut); j >= 0 {
			cut = j
		}
		moved = cut != c
	}
	if cut <= w.done {
		return nil
	}
	sc := st.scratch()
	defer st.keep(sc)
	ss := st.spans(w.buf, sc)
	keep := 0
	for _, s := range ss {
		if s.start >= cut {
			break
		}
		if s.end > cut {
			cut = s.start
			break
		}
		keep++
	}
	if cut <= w.done {
		return nil
	}
	if err := w.emit(w.applyFrom(st, ss[:keep], cut)); err != nil {
		return err
	}
	drop := max(0, cut-contextLen)
	w.buf, w.done = w.buf[:copy(w.buf, w.buf[drop:])], cut-drop
	return nil
}

// emit writes p to the wrapped writer and remembers the first failure.
func (w *Writer) emit(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := w.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("writing redacted output: %w", err)
		return w.err
	}
	return nil
}

var _ io.WriteCloser = (*Writer)(nil)
