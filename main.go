// Command sftper moves files over SFTP for scripts: JSON requests on stdin,
// one JSON result per request on stdout, driving the system's OpenSSH sftp
// client so that the user's OpenSSH configuration is honoured.
//
// This file is wiring only: options, signals and the request loop. The
// protocol is in package proto, the sftp command language in package batch,
// the commands and their results in package command, and the sftp child
// processes in package driver.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/command"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

const version = "0.1.0"

// window bounds how many requests may be in flight at once.
const window = 64

func main() {
	if sock := os.Getenv(driver.AskpassEnv); sock != "" {
		// ssh runs sftper as its askpass helper in batch mode; see
		// driver/askpass.go.
		os.Exit(driver.Askpass(sock, strings.Join(os.Args[1:], " "), os.Stdout))
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, os.Getenv)
	if err == nil && o.startDir != "" {
		err = batch.CheckPath(o.startDir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sftper: %v\n\n%s", err, usage)
		return 2
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if o.version {
		fmt.Fprintf(stdout, "sftper %s\n", version)
		return 0
	}
	if pw := os.Getenv("SFTPER_PASSWORD"); pw != "" {
		// Out of /proc/PID/environ too (see scrub.go).
		if err := scrubEnv("SFTPER_PASSWORD", pw); err != nil {
			fmt.Fprintf(stderr, "sftper: SFTPER_PASSWORD stays readable in /proc/%d/environ: %v\n", os.Getpid(), err)
		}
	}
	secret, err := readSecret(o.passwordFile, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sftper: %v\n", err)
		return 2
	}

	logger := log.New(stderr, "sftper: ", 0)
	cfg := driver.Config{
		Program:        o.program,
		Args:           o.sshArgs,
		Destination:    o.destination,
		StartDir:       o.startDir,
		ConnectTimeout: o.connectTimeout,
		StallTimeout:   o.stallTimeout,
		Share:          true,
		Secret:         secret,
		Log:            logger,
	}
	var sess driver.Conn
	if o.batch {
		sess = driver.NewScripts(cfg)
	} else {
		sess = driver.NewSession(cfg)
	}
	if err := sess.Start(); err != nil {
		logger.Printf("%v", err)
	}

	// A closed stdout must end sftper with a message, not kill it with
	// SIGPIPE: with SIGPIPE notified, the write returns EPIPE instead.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	var stopSig os.Signal
	var hungUp atomic.Bool
	served := make(chan struct{})
	if f, ok := stdout.(*os.File); ok {
		gone := readerGone(f, logger.Printf)
		go func() {
			select {
			case <-gone:
			case <-served:
				return
			}
			// Nobody can hear a result any more: start nothing more,
			// and stop what runs.
			logger.Printf("the reader of sftper's output has gone; stopping")
			hungUp.Store(true)
			cancel()
			sess.Kill()
		}()
	}
	go func() {
		stopSig = <-sigs
		logger.Printf("%v: stopping sftp", stopSig)
		cancel()
		sess.Kill()
		// The loop answers what is in flight and returns; if it is
		// stuck writing to a reader that is gone, do not wait for it.
		time.Sleep(3 * time.Second)
		os.Exit(128 + int(stopSig.(syscall.Signal)))
	}()

	out := bufio.NewWriterSize(stdout, 64<<10)
	in := &eofReader{r: stdin}
	mode := "session"
	if o.batch {
		mode = "batch"
	}
	runner := command.NewRunner(command.Config{Conn: sess, Version: version, Mode: mode, Log: logger.Printf})
	code := serve(ctx, proto.NewCodec(in, resultWriter{out}, o.framing, command.Decoders()), out, runner, logger)
	close(served)
	if hungUp.Load() && code == 0 && in.eof.Load() {
		// The reader left after the last result, as the input ended:
		// every result was delivered, and that is a normal end.
		return 0
	}
	if ctx.Err() != nil {
		sess.Kill()
		if hungUp.Load() {
			return 1
		}
		return 128 + int(stopSig.(syscall.Signal))
	}
	if err := sess.Close(); err != nil && code == 0 {
		logger.Printf("closing the session: %v", err)
	}
	return code
}

// read is one outcome of reading a request.
type read struct {
	req *proto.Request
	err error
}

// entry is one request in flight, in request order.
type entry struct {
	id   []byte
	op   proto.Op
	call command.Job     // nil when resp was known at once
	resp *proto.Response // set for requests refused before anything ran
}

// serve answers requests until the input ends, and returns the exit status.
// Requests are read ahead and begun while earlier ones are still running
// (as far as runner.Conflicts allows), so that sftp never sits idle
// waiting for sftper between commands; results are written strictly in
// request order.
//
// Every hand-off between goroutines costs a wake-up, and with sftp, ssh
// and sshd on the same few cores those add up to a measurable share of a
// burst of small requests. So the reader hands over every request already
// buffered at once, and results are written out only when serve is about
// to wait.
func serve(ctx context.Context, codec proto.Codec, out *bufio.Writer, runner *command.Runner, logger *log.Logger) int {
	reads := make(chan []read, 1)
	go func() {
		for {
			var batch []read
			for {
				req, err := codec.ReadRequest()
				batch = append(batch, read{req, err})
				var bad *proto.BadRequest
				if err != nil && !errors.As(err, &bad) {
					reads <- batch
					return
				}
				if len(batch) == window || !codec.Ready() {
					break
				}
			}
			reads <- batch
		}
	}()

	var queue []entry
	var unread []read // read, not begun yet
	var final error   // what ended the input, once it has
	stopping := ctx.Done()
	code := 0
	// answer writes the oldest result, waiting for it.
	answer := func() bool {
		e := queue[0]
		queue[0] = entry{} // the array outlives the slot: drop the finished call
		queue = queue[1:]
		resp := e.resp
		if resp == nil {
			resp = e.call.Result()
			if ctx.Err() != nil {
				resp = &proto.Response{Status: proto.StatusError, Message: "interrupted: sftper is stopping"}
			}
		}
		resp.ID = e.id
		if err := codec.WriteResponse(resp); err != nil {
			logger.Printf("writing a result: %v; stopping", err)
			code = 1
			return false
		}
		return true
	}
	// begin starts one request that was read.
	begin := func(r read) bool {
		var bad *proto.BadRequest
		switch {
		case r.err == nil:
			for len(queue) > 0 && conflicts(runner, queue, r.req.Op) {
				if !answer() {
					return false
				}
			}
			queue = append(queue, entry{id: r.req.ID, op: r.req.Op, call: runner.Begin(ctx, r.req.Op)})
		case errors.As(r.err, &bad):
			queue = append(queue, entry{id: bad.ID, resp: bad.Response()})
		default:
			final = r.err
		}
		return true
	}
	for {
		stop := final != nil || ctx.Err() != nil
		if len(unread) > 0 && !stop && len(queue) < window {
			r := unread[0]
			unread[0] = read{}
			unread = unread[1:]
			if !begin(r) {
				return code
			}
			continue
		}
		in := reads
		if len(unread) > 0 || stop {
			in = nil
		}
		var head <-chan struct{}
		if len(queue) > 0 {
			if queue[0].call == nil {
				if !answer() {
					return code
				}
				continue
			}
			head = queue[0].call.Done()
		} else if in == nil {
			break
		}
		// Take what is ready without waiting; before waiting, write the
		// results out.
		var batch []read
		select {
		case batch = <-in:
			unread = batch
			continue
		case <-head:
			if !answer() {
				return code
			}
			continue
		default:
		}
		if err := out.Flush(); err != nil {
			logger.Printf("writing a result: %v; stopping", err)
			return 1
		}
		select {
		case batch = <-in:
			unread = batch
		case <-head:
			if !answer() {
				return code
			}
		case <-stopping:
			stopping = nil // answer what is in flight, then stop
		}
	}
	switch {
	case final == nil || errors.Is(final, io.EOF):
	case errors.Is(final, proto.ErrStreamBroken):
		logger.Printf("%v; stopping", final)
		codec.WriteResponse(proto.Fail(nil, final.Error()))
		code = 1
	default:
		logger.Printf("reading requests: %v", final)
		code = 1
	}
	if err := out.Flush(); err != nil && code == 0 {
		logger.Printf("writing a result: %v; stopping", err)
		code = 1
	}
	return code
}

// eofReader notes that the input has ended.
type eofReader struct {
	r   io.Reader
	eof atomic.Bool
}

func (e *eofReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if errors.Is(err, io.EOF) {
		e.eof.Store(true)
	}
	return n, err
}

// resultWriter buffers results; serve flushes it before it waits. It has
// no Flush method of its own, so the codec does not flush every result.
type resultWriter struct{ w *bufio.Writer }

func (r resultWriter) Write(b []byte) (int, error) { return r.w.Write(b) }

// conflicts reports whether next must wait for a request in the queue.
func conflicts(runner *command.Runner, queue []entry, next proto.Op) bool {
	for _, e := range queue {
		if e.call != nil && runner.Conflicts(e.op, next) {
			return true
		}
	}
	return false
}
