// Command pkgsftp is the bench's pkg/sftp contender: an SFTP client in
// pure Go that still goes through OpenSSH for the connection, so that
// ssh_config, keys, agent and known_hosts apply as they do for sftp. It
// starts `ssh -F CONFIG -s ALIAS sftp` (the sftp subsystem, as sftp itself
// asks for it) and speaks SFTP over that process's stdin and stdout with
// github.com/pkg/sftp.
//
// Usage: pkgsftp CONFIG ALIAS OPSFILE
//
// OPSFILE holds one op a line, done in order, one at a time:
// "put\tLOCAL\tREMOTE", "get\tREMOTE\tLOCAL", "list\tREMOTE",
// "puttree\tLOCAL\tREMOTE" or "gettree\tREMOTE\tLOCAL". After each op one
// line goes to stdout: "ok put SIZE", "ok get SIZE", for a listing
// "e SIZE NAME" per entry and then "ok list COUNT", for a tree
// "ok puttree FILES" or "ok gettree FILES". pkg/sftp has no recursive
// transfer: a tree is walked as a user's program would walk it (put:
// filepath.WalkDir, Client.Mkdir, then each file as a put; get:
// Client.Walk, os.Mkdir, then each file as a get), one file at a time,
// REMOTE (put) or LOCAL (get) being the copy's root, which must not exist
// yet. The first failure ends the program with a message on stderr and
// status 1.
package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: pkgsftp CONFIG ALIAS OPSFILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "pkgsftp:", err)
		os.Exit(1)
	}
}

func run(config, alias, opsFile string) error {
	ops, err := os.ReadFile(opsFile)
	if err != nil {
		return err
	}
	ssh := exec.Command("ssh", "-F", config, "-s", alias, "sftp")
	ssh.Stderr = os.Stderr
	toSSH, err := ssh.StdinPipe()
	if err != nil {
		return err
	}
	fromSSH, err := ssh.StdoutPipe()
	if err != nil {
		return err
	}
	if err := ssh.Start(); err != nil {
		return err
	}
	// Concurrent reads are the default; concurrent writes are not (after
	// a failed write a file may have holes past the error). With both, a
	// transfer keeps up to 64 requests of 32 KiB in flight, the same
	// window as OpenSSH's sftp (-R 64 -B 32768). Larger packets
	// (MaxPacketUnchecked, 64 KiB to 244 KiB) made no difference that
	// showed above the noise on the bench's machine, so the default stays.
	client, err := sftp.NewClientPipe(fromSSH, toSSH,
		sftp.UseConcurrentWrites(true),
		sftp.UseConcurrentReads(true),
		sftp.MaxConcurrentRequestsPerFile(64),
	)
	if err != nil {
		ssh.Process.Kill()
		ssh.Wait()
		return fmt.Errorf("starting SFTP over ssh: %w", err)
	}
	out := bufio.NewWriter(os.Stdout)
	for line := range strings.Lines(string(ops)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		switch {
		case len(f) == 3 && f[0] == "put":
			n, err := put(client, f[1], f[2])
			if err != nil {
				return fmt.Errorf("put %s %s: %w", f[1], f[2], err)
			}
			fmt.Fprintf(out, "ok put %d\n", n)
		case len(f) == 3 && f[0] == "get":
			n, err := get(client, f[1], f[2])
			if err != nil {
				return fmt.Errorf("get %s %s: %w", f[1], f[2], err)
			}
			fmt.Fprintf(out, "ok get %d\n", n)
		case len(f) == 2 && f[0] == "list":
			ents, err := client.ReadDir(f[1])
			if err != nil {
				return fmt.Errorf("list %s: %w", f[1], err)
			}
			for _, e := range ents {
				fmt.Fprintf(out, "e %d %s\n", e.Size(), e.Name())
			}
			fmt.Fprintf(out, "ok list %d\n", len(ents))
		case len(f) == 3 && f[0] == "puttree":
			n, err := putTree(client, f[1], f[2])
			if err != nil {
				return fmt.Errorf("puttree %s %s: %w", f[1], f[2], err)
			}
			fmt.Fprintf(out, "ok puttree %d\n", n)
		case len(f) == 3 && f[0] == "gettree":
			n, err := getTree(client, f[1], f[2])
			if err != nil {
				return fmt.Errorf("gettree %s %s: %w", f[1], f[2], err)
			}
			fmt.Fprintf(out, "ok gettree %d\n", n)
		default:
			return fmt.Errorf("bad op line %q", line)
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
	if err := client.Close(); err != nil {
		return err
	}
	toSSH.Close()
	return ssh.Wait()
}

// put uploads local to remote with ReadFrom on the remote file, which
// learns the size of an *os.File with Stat and then writes concurrently.
func put(c *sftp.Client, local, remote string) (int64, error) {
	src, err := os.Open(local)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := c.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return 0, err
	}
	n, err := dst.ReadFrom(src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// get downloads remote to local, with WriteTo on the remote file, which
// reads concurrently.
func get(c *sftp.Client, remote, local string) (int64, error) {
	src, err := c.Open(remote)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := os.Create(local)
	if err != nil {
		return 0, err
	}
	n, err := src.WriteTo(dst)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// putTree uploads the local tree as remote, which it creates, and returns
// the files copied. WalkDir visits a directory before what it holds.
func putTree(c *sftp.Client, local, remote string) (int, error) {
	files := 0
	err := filepath.WalkDir(local, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(local, name)
		if err != nil {
			return err
		}
		dst := path.Join(remote, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return c.Mkdir(dst)
		case d.Type().IsRegular():
			files++
			_, err := put(c, name, dst)
			return err
		}
		return fmt.Errorf("%s: not a file or a directory", name)
	})
	return files, err
}

// getTree downloads the remote tree as local, which it creates, and
// returns the files copied. Client.Walk visits a directory (Lstat, then
// ReadDir) before what it holds.
func getTree(c *sftp.Client, remote, local string) (int, error) {
	files := 0
	for w := c.Walk(remote); w.Step(); {
		if err := w.Err(); err != nil {
			return files, err
		}
		rel, err := filepath.Rel(remote, w.Path())
		if err != nil {
			return files, err
		}
		dst := filepath.Join(local, rel)
		switch mode := w.Stat().Mode(); {
		case mode.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil {
				return files, err
			}
		case mode.IsRegular():
			if _, err := get(c, w.Path(), dst); err != nil {
				return files, err
			}
			files++
		default:
			return files, fmt.Errorf("%s: not a file or a directory", w.Path())
		}
	}
	return files, nil
}
