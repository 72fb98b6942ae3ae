// Command sftper moves files over SFTP for scripts: JSON requests on stdin,
// one JSON result per request on stdout, driving the system's OpenSSH sftp
// client so that the user's OpenSSH configuration is honoured.
//
// This file is wiring only: options, signals and the parts put together.
// The protocol is in package proto, the order in which requests are begun
// and answered in package pipeline, the commands and their results in
// package command, the sftp command language in package batch, and the
// sftp child processes and the connection in package driver.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/command"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/pipeline"
	"github.com/sftper/sftper/proto"
)

const version = "0.1.0"

func main() {
	if first := os.Getenv(driver.SSHExecEnv); first != "" {
		// sftp runs sftper as its ssh, to put options first; see
		// driver/sshfirst.go. ExecSSH returns only on failure.
		err := driver.ExecSSH(first, os.Args[1:])
		fmt.Fprintf(os.Stderr, "sftper: cannot run ssh: %v\n", err)
		os.Exit(255) // ssh's own status for a failure of its own
	}
	if sock := os.Getenv(driver.AskpassEnv); sock != "" {
		// ssh runs sftper as its askpass helper in batch mode; see
		// driver/askpass.go.
		os.Exit(driver.Askpass(sock, strings.Join(os.Args[1:], " "), os.Stdout))
	}
	// sftper runs its goroutines on one thread at a time unless the
	// environment sets GOMAXPROCS. Its own work is small (decoding a
	// request, writing a line, encoding a result); what it mostly does is
	// hand a request from one goroutine to the next (the reader of stdin,
	// the pipeline, the reader of sftp's output, the attribute channel),
	// and with two threads each hand-off may wake the other with a futex
	// and a context switch. Measured on the project's 2-core (virtual)
	// machine with a client that sends one request and waits for its
	// result, sftper's own CPU per request was 266 µs with two threads
	// against 200 µs with one (a plain PUT), and 120 against 113 µs (a
	// STAT), 1,500 requests each. Transfers run in sftp, another process,
	// so they lose nothing; a client that pipelines does the same work on
	// one thread.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	stdin, restore := pollableStdin()
	code := run(os.Args[1:], stdin, os.Stdout, os.Stderr)
	restore()
	os.Exit(code)
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
		// Out of what other processes see of the environment too
		// (see scrub_linux.go).
		if err := scrubEnv("SFTPER_PASSWORD", pw); err != nil {
			fmt.Fprintf(stderr, "sftper: SFTPER_PASSWORD stays readable in %s: %v\n", environShown(os.Getpid()), err)
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
		Sessions:       o.sessions,
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

	// A signal, or the reader of the output going, cancels ctx. The
	// goroutines that notice only say so; run itself stops the children and
	// cleans up, so that all of it is done before main exits.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	var stopSig atomic.Int32
	signalled := make(chan struct{})
	go func() {
		sig := (<-sigs).(syscall.Signal)
		logger.Printf("%v: stopping sftp", sig)
		stopSig.Store(int32(sig))
		close(signalled)
		cancel()
	}()
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
		}()
	}

	in := &eofReader{r: stdin}
	mode := "session"
	if o.batch {
		mode = "batch"
	}
	runner := command.NewRunner(command.Config{Conn: sess, Version: version, Mode: mode, Log: logger.Printf})
	newPipeline := pipeline.New
	if o.unordered {
		newPipeline = pipeline.NewUnordered
	}
	code := serve(ctx, newPipeline(in, stdout, o.framing, command.Decoders(), executor{runner}), sess, logger)
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
		return 128 + int(stopSig.Load())
	}
	// The end of input: let sftp finish cleanly, unless a signal comes
	// meanwhile. Close is bounded by the driver's own timeouts, after a
	// Kill too.
	closed := make(chan error, 1)
	go func() { closed <- sess.Close() }()
	select {
	case err := <-closed:
		if err != nil && code == 0 {
			logger.Printf("closing the session: %v", err)
		}
		return code
	case <-signalled:
		sess.Kill()
		<-closed
		return 128 + int(stopSig.Load())
	}
}

// stopWait bounds how long sftper, once stopping (a signal, or the reader
// of its output gone), waits for the pipeline to answer the requests that
// were in flight. That takes milliseconds: their jobs give up at once, and
// the results are small. A reader that is still there but does not read
// (stopped, or itself waiting for something) would hold sftper forever, a
// full pipe blocking the write. 3 s is ample for a busy machine, and well
// inside the 10 s that docker stop and many supervisors allow between
// SIGTERM and SIGKILL, which leaves the cleanup after it time to finish.
const stopWait = 3 * time.Second

// serve runs the pipeline and returns the exit status it calls for. Once
// ctx is done it stops the children at once, and waits stopWait at most for
// the pipeline to return.
func serve(ctx context.Context, p *pipeline.Pipeline, sess driver.Conn, logger *log.Logger) int {
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Kill()
		select {
		case err = <-done:
		case <-time.After(stopWait):
			logger.Printf("the results in flight could not be written within %v; stopping without them", stopWait)
			return 1
		}
	}
	if err != nil {
		logger.Printf("%v; stopping", err)
		return 1
	}
	return 0
}

// executor hands the pipeline's requests to the command table. (A
// command.Job is a pipeline.Job, but Go wants Begin's result type exact.)
type executor struct{ *command.Runner }

func (x executor) Begin(ctx context.Context, op proto.Op, report pipeline.Report) pipeline.Job {
	return x.Runner.Begin(ctx, op, report)
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
