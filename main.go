// Command sftper moves files over SFTP for scripts: JSON requests on stdin,
// one JSON result per request on stdout, driving the system's OpenSSH sftp
// client so that the user's OpenSSH configuration is honoured.
//
// This file is wiring only: options, signals and the parts put together.
// The protocol is in package proto, the order in which requests are begun
// and answered in package pipeline, the sftp command language in package
// batch, and the sftp child process and the requests' execution in package
// driver.
package main

import (
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
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/pipeline"
	"github.com/sftper/sftper/proto"
)

const version = "0.1.0"

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

	in := &eofReader{r: stdin}
	code := 0
	if err := pipeline.New(in, stdout, o.framing, executor{sess}).Run(ctx); err != nil {
		logger.Printf("%v; stopping", err)
		code = 1
	}
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

// executor carries out requests with package driver. Interim: the command
// table replaces it.
type executor struct{ conn driver.Conn }

func (x executor) Begin(ctx context.Context, op proto.Op) pipeline.Job {
	return driver.Begin(ctx, x.conn, op)
}

// Conflicts asks driver.MayOverlap about the one pair. MayOverlap holds for
// a list of requests in flight exactly when it holds for each of them alone
// (TestConflictsPairwise).
func (executor) Conflicts(earlier, next proto.Op) bool {
	return !driver.MayOverlap([]proto.Op{earlier}, next)
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
