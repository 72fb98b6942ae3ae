package sshdtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// procInfo is the part of /proc/PID/stat the tree walk needs.
type procInfo struct {
	pid, ppid int
	state     byte
}

// readStat parses /proc/PID/stat. The command name is in parentheses and
// may itself contain spaces and parentheses, so the fields are taken from
// after the last ')'.
func readStat(pid int) (procInfo, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: no ')' in %q", pid, b)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: short line %q", pid, b)
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: ppid: %v", pid, err)
	}
	return procInfo{pid: pid, ppid: ppid, state: f[0][0]}, nil
}

// Descendants returns the pids of every living (non-zombie) process below
// pid in the process tree, found by walking /proc. The result does not
// include pid itself. Processes that exit during the walk are skipped.
func Descendants(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		info, err := readStat(p)
		if err != nil {
			// Gone between ReadDir and ReadFile: not a descendant any more.
			continue
		}
		if info.state == 'Z' || info.state == 'X' {
			continue
		}
		children[info.ppid] = append(children[info.ppid], p)
	}
	var out []int
	queue := []int{pid}
	seen := map[int]bool{pid: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out, nil
}

// Alive reports whether pid exists and is not a zombie. A zombie counts as
// dead: when the parent has died the process is reparented to an init that
// may never reap it, but it runs no code and holds no sockets.
func Alive(pid int) bool {
	info, err := readStat(pid)
	if err != nil {
		return false
	}
	return info.state != 'Z' && info.state != 'X'
}

// signal sends sig to pid, treating "no such process" as success.
func signal(pid int, sig syscall.Signal) error {
	err := syscall.Kill(pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// freezeTree stops root and all its descendants with SIGSTOP, repeating the
// walk until it finds no new process, so that nothing forks between the
// snapshot and the signal that follows. It returns every pid it stopped,
// root first.
func freezeTree(root int) ([]int, error) {
	stopped := map[int]bool{}
	order := []int{}
	stop := func(p int) error {
		if stopped[p] {
			return nil
		}
		stopped[p] = true
		order = append(order, p)
		return signal(p, syscall.SIGSTOP)
	}
	if err := stop(root); err != nil {
		return nil, err
	}
	// A tree of sshd processes is a handful deep; 50 rounds without
	// settling means something is forking wildly.
	for range 50 {
		ds, err := Descendants(root)
		if err != nil {
			return order, err
		}
		fresh := 0
		for _, p := range ds {
			if !stopped[p] {
				fresh++
				if err := stop(p); err != nil {
					return order, err
				}
			}
		}
		if fresh == 0 {
			return order, nil
		}
	}
	return order, fmt.Errorf("process tree of %d did not settle while stopping it", root)
}

// KillSessions kills, with SIGKILL, the processes that serve the sessions
// (channels) of every logged-in connection, and leaves the connections
// themselves up: what a client sees when the server closes its channels
// (ChannelTimeout, an administrator killing sftp-server). In sshd's tree
// they are the grandchildren of each per-connection monitor: listener,
// monitor ("sshd: USER [priv]"), the user's sshd ("sshd: USER@notty"),
// then one process per session (internal-sftp runs in it). It returns how
// many it killed.
func (s *Server) KillSessions() (int, error) {
	return s.killAtDepth(3)
}

// KillConnections kills, with SIGKILL, the user's sshd of every logged-in
// connection (and so all their sessions): the connection drops while the
// listener stays up.
func (s *Server) KillConnections() (int, error) {
	return s.killAtDepth(2)
}

// Sessions returns how many session processes (see KillSessions) the
// server has now, over every connection.
func (s *Server) Sessions() (int, error) {
	pids, err := s.atDepth(3)
	return len(pids), err
}

// killAtDepth kills every process depth levels below the listener.
func (s *Server) killAtDepth(depth int) (int, error) {
	level, err := s.atDepth(depth)
	if err != nil {
		return 0, err
	}
	for _, p := range level {
		if err := signal(p, syscall.SIGKILL); err != nil {
			return 0, err
		}
	}
	return len(level), nil
}

// atDepth returns the living processes depth levels below the listener.
func (s *Server) atDepth(depth int) ([]int, error) {
	s.mu.Lock()
	if s.cmd == nil {
		s.mu.Unlock()
		return nil, errors.New("server not running")
	}
	level := []int{s.cmd.Process.Pid}
	s.mu.Unlock()
	for range depth {
		var next []int
		for _, p := range level {
			kids, err := childrenOf(p)
			if err != nil {
				return nil, err
			}
			next = append(next, kids...)
		}
		level = next
	}
	return level, nil
}

// childrenOf returns the living direct children of pid.
func childrenOf(pid int) ([]int, error) {
	ds, err := Descendants(pid)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, d := range ds {
		if info, err := readStat(d); err == nil && info.ppid == pid {
			out = append(out, d)
		}
	}
	return out, nil
}

// FreezeConnections stops (SIGSTOP) every process below the listener, so
// that every logged-in connection stops answering while its TCP connection
// stays open and new connections are still accepted: a server that hangs.
// thaw sends SIGCONT to what it stopped; Cleanup kills them in any case.
func (s *Server) FreezeConnections() (thaw func(), err error) {
	s.mu.Lock()
	if s.cmd == nil {
		s.mu.Unlock()
		return nil, errors.New("server not running")
	}
	root := s.cmd.Process.Pid
	s.mu.Unlock()
	kids, err := childrenOf(root)
	if err != nil {
		return nil, err
	}
	var stopped []int
	for _, k := range kids {
		pids, err := freezeTree(k)
		stopped = append(stopped, pids...)
		if err != nil {
			return nil, err
		}
	}
	if len(stopped) == 0 {
		return nil, errors.New("no connection to freeze")
	}
	return func() {
		for _, p := range stopped {
			signal(p, syscall.SIGCONT)
		}
	}, nil
}
