package driver

import (
	"log"
	"os"
	"strings"
	"sync"
)

// ttyLimit bounds what is kept of the terminal's output: prompts are short,
// and only the tail matters.
const ttyLimit = 16 << 10

// ttyWatch moves what ssh writes on the pseudo-terminal into a buffer, from
// its own goroutine, and pokes notify after each read. Matching happens
// elsewhere (DetectPrompt) on a copy of the buffer. Once the session is
// connected, anything ssh still writes there is only logged.
type ttyWatch struct {
	f      *os.File
	log    *log.Logger
	notify chan struct{} // capacity 1: a poke, never blocks the reader

	mu   sync.Mutex
	buf  []byte
	done bool // connected: log instead of buffering
}

func newTTYWatch(f *os.File, l *log.Logger) *ttyWatch {
	t := &ttyWatch{f: f, log: l, notify: make(chan struct{}, 1)}
	go t.read()
	return t
}

func (t *ttyWatch) read() {
	b := make([]byte, 4096)
	for {
		n, err := t.f.Read(b)
		if n > 0 {
			t.mu.Lock()
			if t.done {
				if s := strings.TrimSpace(strings.ReplaceAll(string(b[:n]), "\r", "")); s != "" {
					t.log.Printf("ssh (terminal): %s", s)
				}
			} else {
				t.buf = append(t.buf, b[:n]...)
				if len(t.buf) > ttyLimit {
					t.buf = append(t.buf[:0], t.buf[len(t.buf)-ttyLimit:]...)
				}
			}
			t.mu.Unlock()
			select {
			case t.notify <- struct{}{}:
			default:
			}
		}
		if err != nil {
			// EIO once every holder of the terminal side has exited,
			// or the file was closed.
			return
		}
	}
}

func (t *ttyWatch) text() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func (t *ttyWatch) connected() {
	t.mu.Lock()
	t.done = true
	t.buf = nil
	t.mu.Unlock()
}

func (t *ttyWatch) close() { t.f.Close() }

// answer types reply and Enter on the terminal, for the question ssh is
// waiting on, and forgets what ssh wrote so far: the next question is
// judged on its own. (ssh has turned echo off before asking.)
func (t *ttyWatch) answer(reply []byte) {
	t.mu.Lock()
	t.buf = nil
	t.mu.Unlock()
	line := make([]byte, 0, len(reply)+1)
	line = append(append(line, reply...), '\n')
	t.f.Write(line)
	clear(line)
}
