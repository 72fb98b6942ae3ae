// Package client runs an sftper binary as a subprocess and talks to it the
// way a user's script does: requests on its stdin, one result per request
// on its stdout, in text framing (one JSON document per line) or binary
// framing (a 4-byte big-endian length, then the JSON).
//
// Every read and write has a deadline, so a hung sftper turns into an
// error instead of a hung caller. The package does not interpret results
// beyond splitting them into their four fields; it is a test and demo
// helper, not an API for sftper users.
package client

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Framing is how requests are written and results read.
type Framing int

const (
	Text   Framing = iota // one JSON document per line
	Binary                // uint32 big-endian length, then that many bytes
)

func (f Framing) String() string {
	if f == Binary {
		return "binary"
	}
	return "text"
}

// MaxResult bounds one result read by Recv; a longer one is an error
// rather than an allocation of whatever length sftper claims.
const MaxResult = 64 << 20

// Options for Start.
type Options struct {
	Framing Framing
	Dir     string   // working directory of sftper (default: the caller's)
	Env     []string // added to the caller's environment
}

// Result is one decoded result. Data and ID stay raw so a test can compare
// them exactly; Raw is the whole payload as received.
type Result struct {
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	ID      json.RawMessage `json:"id"`
	Raw     []byte          `json:"-"`
}

// Proc is one running sftper.
type Proc struct {
	Cmd     *exec.Cmd
	framing Framing
	stdin   *os.File // our write end
	stdout  *os.File // our read end
	r       *bufio.Reader
	errFile *os.File // sftper's stderr
	done    chan struct{}
	closed  bool
	stderr  string // what errFile held when Close closed it
}

// Start runs bin with args. Stdin and stdout are pipes that support
// deadlines; stderr goes to a temporary file, read with Stderr.
func Start(bin string, opts Options, args ...string) (*Proc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	errFile, err := os.CreateTemp("", "sftper-stderr-")
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	os.Remove(errFile.Name()) // kept open; gone when closed
	cmd := exec.Command(bin, args...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errFile
	err = cmd.Start()
	// The child holds its own copies; ours would keep the pipes open.
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errFile.Close()
		return nil, err
	}
	p := &Proc{
		Cmd:     cmd,
		framing: opts.Framing,
		stdin:   inW,
		stdout:  outR,
		r:       bufio.NewReaderSize(outR, 64<<10),
		errFile: errFile,
		done:    make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid of the sftper process.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Framing the Proc writes and reads.
func (p *Proc) Framing() Framing { return p.framing }

// Frame returns payload as it goes on the wire in f.
func Frame(f Framing, payload []byte) []byte {
	if f == Binary {
		b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(payload)), uint32(len(payload)))
		return append(b, payload...)
	}
	return append(append(make([]byte, 0, len(payload)+1), payload...), '\n')
}

// Send writes payload as one request in the Proc's framing.
func (p *Proc) Send(payload []byte, timeout time.Duration) error {
	return p.Write(Frame(p.framing, payload), timeout)
}

// Write writes raw bytes to sftper's stdin, unframed.
func (p *Proc) Write(b []byte, timeout time.Duration) error {
	p.stdin.SetWriteDeadline(time.Now().Add(timeout))
	_, err := p.stdin.Write(b)
	if err != nil {
		return fmt.Errorf("writing %d bytes to sftper: %w", len(b), err)
	}
	return nil
}

// Recv reads one result payload. io.EOF means sftper closed its stdout
// (usually: it exited) before a result started.
func (p *Proc) Recv(timeout time.Duration) ([]byte, error) {
	p.stdout.SetReadDeadline(time.Now().Add(timeout))
	if p.framing == Binary {
		var hdr [4]byte
		if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
			return nil, fmt.Errorf("reading result length: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > MaxResult {
			return nil, fmt.Errorf("result length %d exceeds %d", n, MaxResult)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(p.r, b); err != nil {
			return nil, fmt.Errorf("reading %d-byte result: %w", n, err)
		}
		return b, nil
	}
	var line []byte
	for {
		chunk, err := p.r.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			return line[:len(line)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if len(line) == 0 {
				return nil, err
			}
			return nil, fmt.Errorf("reading result line (got %q so far): %w", line, err)
		}
		if len(line) > MaxResult {
			return nil, fmt.Errorf("result line longer than %d bytes", MaxResult)
		}
	}
}

// Decode splits a result payload into its fields.
func Decode(payload []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(payload, &r); err != nil {
		return Result{Raw: payload}, fmt.Errorf("result is not a JSON object: %v: %q", err, payload)
	}
	r.Raw = payload
	return r, nil
}

// Do sends one request and returns its result. req is sent as is when it
// is a []byte or json.RawMessage, and JSON-encoded otherwise.
func (p *Proc) Do(req any, timeout time.Duration) (Result, error) {
	var payload []byte
	switch v := req.(type) {
	case []byte:
		payload = v
	case json.RawMessage:
		payload = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return Result{}, err
		}
		payload = b
	}
	if err := p.Send(payload, timeout); err != nil {
		return Result{}, err
	}
	b, err := p.Recv(timeout)
	if err != nil {
		return Result{}, err
	}
	return Decode(b)
}

// CloseStdin signals end of input.
func (p *Proc) CloseStdin() error { return p.stdin.Close() }

// CloseStdout closes our end of sftper's stdout, so its next write fails.
func (p *Proc) CloseStdout() error { return p.stdout.Close() }

// Signal sends sig to sftper.
func (p *Proc) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Exited is closed once sftper has exited and been reaped.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Wait waits up to timeout for sftper to exit and returns its exit code
// (-1 when a signal ended it). On timeout it kills sftper and says so.
func (p *Proc) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		p.Cmd.Process.Kill()
		<-p.done
		return -1, fmt.Errorf("sftper did not exit within %v; killed", timeout)
	}
}

// Stderr returns everything sftper has written to stderr so far, or until
// Close.
func (p *Proc) Stderr() string {
	if p.closed {
		return p.stderr
	}
	// ReadAt leaves the child's (shared, O_APPEND-less) offset alone.
	b, err := io.ReadAll(io.NewSectionReader(p.errFile, 0, 1<<40))
	if err != nil {
		return "(stderr unavailable: " + err.Error() + ")"
	}
	return string(b)
}

// Close kills sftper if it still runs, reaps it and releases the pipes.
func (p *Proc) Close() {
	select {
	case <-p.done:
	default:
		p.Cmd.Process.Kill()
		<-p.done
	}
	if p.closed {
		return
	}
	p.stderr = p.Stderr()
	p.closed = true
	p.stdin.Close()
	p.stdout.Close()
	p.errFile.Close()
}
