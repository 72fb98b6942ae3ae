package driver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/sftper/sftper/proto"
)

// connOwner is the one owner of what the sftp children of a Conn share on
// the way to the server: the user's ssh settings (ssh -G, read once), the
// decision how children connect (see sharing), sftper's own ControlMasters
// (master.go), the private directory their sockets live in, and the
// askpass server that gives ssh the user's secret (askpass.go). Scripts
// (batch mode) asks it for a master before its first script; a Session
// holds one for its settings, so that a second sftp child (or another
// channel) can ask it for a shared connection when a capability needs one.
//
// # Session mode starts no master until asked
//
// A master in session mode would cost every run an extra ssh process and
// put one more process start in front of the first result, for nothing
// while one sftp child is all a session runs. Measured on this machine (2
// cores shared with other work, loopback OpenSSH 9.2 server), from start
// to the first result of one `pwd`, medians:
//
//   - sftp connecting on its own: 310 ms (7 runs, 274-355), and 389 ms
//     (11 runs at load average 4.7, 241-494);
//   - a master started first (until its mux listener is up), then sftp
//     over it: 329 ms (306-364), +19 ms, and 503 ms (319-730), +114 ms;
//     plus one ssh process of 8.2 MiB resident set for as long as sftper
//     runs.
//
// So a Session never asks for one: when a second child needs the login,
// Master starts one then (or finds the user's own ControlPath).
//
// Close ends every master (ssh closes its connection and removes its
// socket), then the socket directory and the askpass server, and returns
// what went wrong; Kill ends them at once, for signals. Both are safe to
// call more than once and after each other.
type connOwner struct {
	cfg *Config

	settingsOnce sync.Once
	settings     Settings

	mu      sync.Mutex
	share   sharing
	closed  bool
	masters map[*master]bool // every master running
	dir     string           // private directory for control sockets, once made
	nsock   int
	askpass *askpassServer // when there is a secret to give
	env     []string       // for every ssh: how to reach askpass
	ended   chan struct{}  // made by the first Close or Kill, closed once it is done

	gate gate // keeps sftp's lines and the attribute channel's calls apart (gate.go)
}

// stoppingError is what a connection asked for after Close or Kill gets.
func stoppingError() *ConnError {
	return &ConnError{Msg: "connection lost: sftper is stopping", Kind: proto.KindInterrupted}
}

func newConnOwner(cfg *Config) *connOwner {
	return &connOwner{cfg: cfg, masters: map[*master]bool{}}
}

// Settings are the user's ssh settings for the destination, read the first
// time they are asked for (ssh -G costs a process); unknown (the zero
// Settings) if ssh could not say, which is logged once.
func (o *connOwner) Settings() Settings {
	o.settingsOnce.Do(func() {
		s, err := readSettings(o.cfg)
		if err != nil {
			o.cfg.Log.Printf("could not read your ssh configuration (%v); leaving keep-alives and connection sharing to it", err)
		}
		o.settings = s
	})
	return o.settings
}

// sharing is how the children of one owner reach the server.
type sharing int

const (
	shareUndecided sharing = iota
	shareOurs              // sftper runs a ControlMaster
	shareUsers             // the user's configuration shares connections
	shareNone              // sharing is impossible; every child connects
)

// errNoSharing wraps the reason sharing is impossible, as opposed to a
// failure to connect at all.
type errNoSharing struct{ why string }

func (e *errNoSharing) Error() string { return e.why }

// socketPath is safe in a ControlPath option unquoted and unexpanded, and
// fits a Unix socket's 108 bytes with the 17 that ssh appends while it
// creates the socket.
var socketPath = regexp.MustCompile(`^/[A-Za-z0-9/._-]{1,88}$`)

// decide chooses once how children connect, from settings. Called with
// o.mu held (and so not the one to read the settings: ssh -G may take a
// while, and Kill must not wait for it).
func (o *connOwner) decide(settings Settings) sharing {
	if o.share != shareUndecided {
		return o.share
	}
	switch {
	case !o.cfg.Share:
		o.share = shareNone
	case !settings.Known():
		o.noSharing("ssh -G could not read your configuration")
	case settings.ControlPath() != "":
		o.cfg.Log.Printf("using the connection sharing of your ssh configuration (ControlPath %s)", settings.ControlPath())
		o.share = shareUsers
	default:
		dir, err := makeOwnDir(o.cfg.Log.Printf) // see leftovers.go
		switch {
		case err != nil:
			o.noSharing(fmt.Sprintf("cannot make a directory for the control socket: %v", err))
		case !socketPath.MatchString(filepath.Join(dir, "cm0000")):
			os.RemoveAll(dir) // and its owner file
			o.noSharing(fmt.Sprintf("the temporary directory %q is too long or unusual for a control socket path; set TMPDIR to a short plain path", dir))
		default:
			o.dir = dir
			o.share = shareOurs
		}
	}
	return o.share
}

// noSharing says once that children will each connect on their own.
// Called with o.mu held.
func (o *connOwner) noSharing(why string) {
	if o.share != shareNone {
		o.cfg.Log.Printf("cannot share one ssh connection between sftper's sftp sessions (%s); each pays a connection of its own", why)
	}
	o.share = shareNone
}

// giveUpSharing is noSharing for callers that do not hold o.mu: the server
// turned out not to take sessions over a shared connection.
func (o *connOwner) giveUpSharing(why string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.noSharing(why)
}

// askpassEnv returns what an ssh without a terminal needs in its
// environment to ask sftper for the secret, starting the askpass server
// the first time; nil without a secret.
func (o *connOwner) askpassEnv() ([]string, *ConnError) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, stoppingError()
	}
	if o.cfg.Secret == nil || o.askpass != nil {
		return o.env, nil
	}
	a, err := startAskpass(o.cfg.Secret, o.cfg.Log.Printf)
	var env []string
	if err == nil {
		if env, err = a.env(); err != nil {
			a.close()
		}
	}
	if err != nil {
		return nil, &ConnError{Msg: fmt.Sprintf("cannot offer ssh the secret through askpass: %v", err), Kind: proto.KindConnectFailed}
	}
	o.askpass, o.env = a, env
	return env, nil
}

// Master returns a running master of sftper's own for a child to connect
// through, starting one; nil (and no error) when children connect on
// their own or through the user's own sharing. The error is a *ConnError
// when ssh could not connect (its Kind says why).
func (o *connOwner) Master() (*master, error) {
	env, cerr := o.askpassEnv()
	if cerr != nil {
		return nil, cerr
	}
	settings := o.Settings()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, stoppingError()
	}
	if o.decide(settings) != shareOurs {
		o.mu.Unlock()
		return nil, nil
	}
	o.nsock++
	socket := filepath.Join(o.dir, "cm"+strconv.Itoa(o.nsock))
	askpass := o.askpass
	o.mu.Unlock()
	var starting *master
	m, err := startMaster(o.cfg, settings, socket, o.cfg.ConnectTimeout, env, func(m *master) bool {
		// Kept from the start, so that a Kill while it connects ends
		// it (with its ProxyCommand) at once.
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.closed {
			return false
		}
		starting = m
		o.masters[m] = true
		return true
	})
	if err != nil && starting != nil {
		o.mu.Lock()
		delete(o.masters, starting) // startMaster has stopped it
		o.mu.Unlock()
	}
	var ns *errNoSharing
	var ce *ConnError
	switch {
	case errors.As(err, &ns):
		o.giveUpSharing(ns.why)
		return nil, nil
	case errors.As(err, &ce):
		if askpass != nil {
			if msg, ok := askpass.answers.rejected(); ok {
				ce.Msg = msg + "; ssh said: " + strings.TrimPrefix(ce.Msg, "authentication failed: ")
				ce.Kind = proto.KindAuthFailed
			}
		}
		return nil, ce
	case err != nil:
		return nil, &ConnError{Msg: err.Error(), Kind: proto.KindConnectFailed}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		m.kill()
		return nil, stoppingError()
	}
	return m, nil
}

// masterSocket returns a fresh control socket path for a session's own
// ssh to listen on as a master (see Session.spawn), "" when children do
// not share a connection of sftper's (the user's configuration shares
// them, or sharing is impossible).
func (o *connOwner) masterSocket() string {
	settings := o.Settings()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.decide(settings) != shareOurs {
		return ""
	}
	o.nsock++
	return filepath.Join(o.dir, "cm"+strconv.Itoa(o.nsock))
}

// sharingNone reports whether the owner has found that children cannot
// share a connection (each connects on its own).
func (o *connOwner) sharingNone() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.share == shareNone
}

// retire stops a master that has died or is no longer used, in the
// background (its stop waits for ssh to say goodbye).
func (o *connOwner) retire(m *master) {
	o.mu.Lock()
	delete(o.masters, m)
	o.mu.Unlock()
	go m.stop()
}

// Close stops every master cleanly (see master.stop), removes the socket
// directory and closes the askpass server. The error joins what went
// wrong: a master that had to be killed, a directory that could not be
// removed. A second Close (or a Kill) waits for the first to finish.
func (o *connOwner) Close() error { return o.end(false) }

// Kill ends every master at once, for signals, and removes what the owner
// made. It does so even while a Close is stopping them, and returns once
// everything is removed, so that the caller may exit at once.
func (o *connOwner) Kill() { o.end(true) }

func (o *connOwner) end(kill bool) error {
	o.mu.Lock()
	o.closed = true
	var masters []*master
	for m := range o.masters {
		masters = append(masters, m)
	}
	done, first := o.ended, o.ended == nil
	if first {
		o.ended = make(chan struct{})
		done = o.ended
	}
	dir, a := o.dir, o.askpass
	o.mu.Unlock()
	if kill {
		for _, m := range masters {
			m.kill()
		}
	}
	if !first {
		<-done
		return nil
	}
	defer close(done)
	var errs []error
	if !kill {
		for _, m := range masters {
			errs = append(errs, m.stop())
		}
	}
	return errors.Join(append(errs, o.release(dir, a))...)
}

func (o *connOwner) release(dir string, a *askpassServer) error {
	var err error
	if dir != "" {
		if rerr := os.RemoveAll(dir); rerr != nil {
			err = fmt.Errorf("removing the control socket directory: %w", rerr)
		}
	}
	if a != nil {
		err = errors.Join(err, a.close())
	}
	return err
}
