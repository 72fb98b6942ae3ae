// Command demo drives one real sftper session against a throwaway OpenSSH
// server on 127.0.0.1: PUT of a file with an awkward name, LISTDIR, GET
// back, DELETE, LISTDIR again. It prints every request (>>>) and result
// (<<<) exactly as they went over the pipe, checks each effect on the
// server's disk, and exits non-zero on anything unexpected.
//
// It builds nothing: integration/demo.sh builds sftper and passes it with
// -sftper.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sftper/sftper/integration/client"
	"github.com/sftper/sftper/integration/sshdtest"
)

// The name a naive wrapper would get wrong in several ways at once.
const awkward = `demo file "quoted" 'too' [1] $(not run) #x ü.txt`

// request is one request; a struct, so the JSON reads in this order.
type request struct {
	Command string `json:"command"`
	Args    args   `json:"args"`
	ID      int    `json:"id"`
}

type args struct {
	Source string `json:"source,omitempty"`
	Dest   string `json:"dest,omitempty"`
	Path   string `json:"path,omitempty"`
}

func main() {
	bin := flag.String("sftper", "", "path of the sftper binary to run")
	flag.Parse()
	if *bin == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: demo -sftper PATH")
		os.Exit(2)
	}
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("demo OK: the file went up and came back byte for byte, and is gone again.")
}

func run(bin string) (err error) {
	srv, err := sshdtest.Start(sshdtest.Options{})
	if err != nil {
		return err
	}
	defer srv.Cleanup()
	fmt.Printf("sshd on 127.0.0.1:%d, logging in as %s, login directory %s\n", srv.Port, srv.User, srv.Home)

	local, err := os.MkdirTemp("", "sftper-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(local)
	content := []byte("Hello from the sftper demo.\nSome bytes: \x00\x01\xfe\xff and ünïcødé.\n")
	src := filepath.Join(local, awkward)
	if err := os.WriteFile(src, content, 0o644); err != nil {
		return err
	}
	back := filepath.Join(local, "back")
	if err := os.Mkdir(back, 0o755); err != nil {
		return err
	}

	cmdline := []string{"-F", srv.SSHConfig, "sftp://" + sshdtest.Alias}
	fmt.Printf("$ %s %q\n\n", bin, cmdline)
	p, err := client.Start(bin, client.Options{Framing: client.Text, Dir: local}, cmdline...)
	if err != nil {
		return err
	}
	defer func() {
		p.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "--- sftper stderr:\n%s--- sshd log:\n%s", p.Stderr(), srv.Log())
		}
	}()

	step := func(req request) (client.Result, error) {
		payload, err := json.Marshal(req)
		if err != nil {
			return client.Result{}, err
		}
		fmt.Printf(">>> %s\n", payload)
		if err := p.Send(payload, 30*time.Second); err != nil {
			return client.Result{}, err
		}
		b, err := p.Recv(2 * time.Minute)
		if err != nil {
			return client.Result{}, err
		}
		fmt.Printf("<<< %s\n\n", b)
		res, err := client.Decode(b)
		if err != nil {
			return res, err
		}
		if res.Status != "ok" {
			return res, fmt.Errorf("%s answered %s: %s", req.Command, res.Status, res.Message)
		}
		return res, nil
	}
	listed := func(res client.Result) (bool, error) {
		var entries []struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		}
		if err := json.Unmarshal(res.Data, &entries); err != nil {
			return false, fmt.Errorf("LISTDIR data: %v", err)
		}
		for _, e := range entries {
			if e.Name == awkward {
				if e.Size != int64(len(content)) {
					return true, fmt.Errorf("LISTDIR says size %d, want %d", e.Size, len(content))
				}
				return true, nil
			}
		}
		return false, nil
	}
	onServer := filepath.Join(srv.Home, awkward)

	if _, err := step(request{"PUT", args{Source: awkward, Dest: awkward}, 1}); err != nil {
		return err
	}
	if got, err := os.ReadFile(onServer); err != nil || !bytes.Equal(got, content) {
		return fmt.Errorf("after PUT the server holds %q (%v)", got, err)
	}

	res, err := step(request{"LISTDIR", args{Path: "."}, 2})
	if err != nil {
		return err
	}
	if found, err := listed(res); err != nil || !found {
		return errors.Join(err, errors.New("LISTDIR does not show the uploaded file"))
	}

	if _, err := step(request{"GET", args{Source: awkward, Dest: back}, 3}); err != nil {
		return err
	}
	if got, err := os.ReadFile(filepath.Join(back, awkward)); err != nil || !bytes.Equal(got, content) {
		return fmt.Errorf("GET brought back %q (%v), want %q", got, err, content)
	}
	fmt.Printf("GET is byte-exact (%d bytes)\n\n", len(content))

	if _, err := step(request{"DELETE", args{Path: awkward}, 4}); err != nil {
		return err
	}
	if _, err := os.Lstat(onServer); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("after DELETE the file is still on the server (%v)", err)
	}

	res, err = step(request{"LISTDIR", args{Path: "."}, 5})
	if err != nil {
		return err
	}
	if found, err := listed(res); err != nil || found {
		return errors.Join(err, errors.New("LISTDIR still shows the deleted file"))
	}

	p.CloseStdin()
	code, err := p.Wait(30 * time.Second)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("sftper exited %d at end of input, want 0", code)
	}
	return nil
}
