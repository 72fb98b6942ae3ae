// Command sftper moves files over SFTP for scripts: JSON requests on stdin,
// one JSON result per request on stdout, driving the system's OpenSSH sftp
// client so that the user's OpenSSH configuration is honoured.
//
// This file is wiring only: options, signals and the request loop. The
// protocol is in package proto, the sftp command language in package batch,
// and the sftp child process in package driver.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sftper/sftper/batch"
	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

const version = "0.1.0"

func main() {
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

	logger := log.New(stderr, "sftper: ", 0)
	sess := driver.NewSession(driver.Config{
		Program:        o.program,
		Args:           o.sshArgs,
		Destination:    o.destination,
		StartDir:       o.startDir,
		ConnectTimeout: o.connectTimeout,
		Log:            logger,
	})
	if err := sess.Start(); err != nil {
		logger.Printf("%v", err)
	}

	// A closed stdout must end sftper with a message, not kill it with
	// SIGPIPE: with SIGPIPE notified, the write returns EPIPE instead.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var inFlight sync.WaitGroup
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		logger.Printf("%v: stopping sftp", sig)
		cancel()
		sess.Kill()
		// Let the request in hand be answered, briefly.
		done := make(chan struct{})
		go func() { inFlight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()

	codec := proto.NewCodec(stdin, stdout, o.framing)
	for {
		code, stop := serveOne(ctx, codec, sess, logger, &inFlight)
		if stop {
			if err := sess.Close(); err != nil && code == 0 {
				logger.Printf("closing the session: %v", err)
			}
			if ctx.Err() != nil {
				select {} // the signal handler exits
			}
			return code
		}
	}
}

// serveOne reads and answers one request. stop says the loop is over, and
// code is then sftper's exit status.
func serveOne(ctx context.Context, codec proto.Codec, sess *driver.Session, logger *log.Logger, inFlight *sync.WaitGroup) (code int, stop bool) {
	req, err := codec.ReadRequest()
	var resp *proto.Response
	var bad *proto.BadRequest
	switch {
	case err == nil:
		inFlight.Add(1)
		defer inFlight.Done()
		resp = driver.Execute(ctx, sess, req.Op)
		resp.ID = req.ID
		if ctx.Err() != nil {
			resp = &proto.Response{Status: proto.StatusError, Message: "interrupted: sftper is stopping", ID: req.ID}
		}
	case errors.Is(err, io.EOF):
		return 0, true
	case errors.As(err, &bad):
		resp = bad.Response()
	case errors.Is(err, proto.ErrStreamBroken):
		logger.Printf("%v; stopping", err)
		codec.WriteResponse(proto.Fail(nil, err.Error()))
		return 1, true
	default:
		logger.Printf("reading requests: %v", err)
		return 1, true
	}
	if err := codec.WriteResponse(resp); err != nil {
		logger.Printf("writing a result: %v; stopping", err)
		return 1, true
	}
	return 0, ctx.Err() != nil
}
