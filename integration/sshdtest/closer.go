package sshdtest

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Closer listens on a loopback port like an SSH server would, but closes
// every connection after reading the client's identification line,
// before sending one of its own. ssh reports
// "kex_exchange_identification: Connection closed by remote host" and
// "Connection closed by 127.0.0.1 port PORT" and exits 255; see
// Server.PortConfig to aim a client at it.
//
// (A server that dies after authentication is Server.Kill or Server.Stop.)
type Closer struct {
	Port int

	l        net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

// StartCloser starts a Closer on a free port of 127.0.0.1.
func StartCloser() (*Closer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &Closer{Port: l.Addr().(*net.TCPAddr).Port, l: l}
	c.wg.Add(1)
	go c.serve()
	return c, nil
}

func (c *Closer) serve() {
	defer c.wg.Done()
	for {
		conn, err := c.l.Accept()
		if err != nil {
			return
		}
		c.accepted.Add(1)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			// Closing with the client's bytes unread would send a
			// reset ("Connection reset by peer") instead of the orderly
			// close meant here. ssh sends one line and then waits for
			// ours.
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			bufio.NewReader(conn).ReadString('\n')
			conn.Close()
		}()
	}
}

// Accepted is how many connections the Closer has taken.
func (c *Closer) Accepted() int { return int(c.accepted.Load()) }

// Addr is "127.0.0.1:PORT".
func (c *Closer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)) }

// Close stops listening and waits for the connections being closed.
func (c *Closer) Close() error {
	err := c.l.Close()
	c.wg.Wait()
	return err
}

// PortConfig writes an ssh_config for Alias like SSHConfig but aimed at
// another port on 127.0.0.1: a Closer's, or one where nothing listens
// ("ssh: connect to host 127.0.0.1 port PORT: Connection refused").
func (s *Server) PortConfig(port int) (string, error) {
	config := filepath.Join(s.Dir, fmt.Sprintf("ssh_config_port_%d", s.seq.Add(1)))
	return config, writeLines(config, s.hostBlockPort(Alias, port, []string{
		"IdentityFile " + s.KeyFile,
		"IdentitiesOnly yes",
		"UserKnownHostsFile " + s.KnownHosts,
		"StrictHostKeyChecking yes",
	}))
}
