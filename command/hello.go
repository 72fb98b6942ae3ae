package command

import (
	"fmt"

	"github.com/sftper/sftper/proto"
)

// HELLO {} says what sftper this is, so that a client can check what it
// talks to. It runs no sftp line: it answers without a connection, even
// when the server cannot be reached.
var helloCommand = entry("HELLO", decodeHello, helloEffects, startHello)

// Hello asks what sftper this is.
type Hello struct{}

func (Hello) Name() string { return "HELLO" }

func decodeHello(*proto.Args) Hello { return Hello{} } // no arguments

func helloEffects(Hello) []Effect { return nil }

// Protocol is the version of the request and result protocol: it grows
// only when a client could not otherwise tell what to expect.
const Protocol = 1

// HelloData is the data of an ok HELLO.
type HelloData struct {
	Sftper   string   `json:"sftper"`   // sftper's version
	Protocol int      `json:"protocol"` // see Protocol
	Commands []string `json:"commands"` // every command's name, sorted
	Mode     string   `json:"mode"`     // "session" or "batch"
}

func startHello(e *env, _ Hello) step {
	c := e.r.cfg
	return finished(Result{
		Message: fmt.Sprintf("sftper %s, protocol %d, %s mode", c.Version, Protocol, c.Mode),
		Data:    &HelloData{Sftper: c.Version, Protocol: Protocol, Commands: e.r.names, Mode: c.Mode},
	}, nil)
}
