package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/shlex"

	"github.com/sftper/sftper/driver"
	"github.com/sftper/sftper/proto"
)

const usage = `usage: sftper [options] DESTINATION

Moves files over SFTP for a script: JSON requests on stdin, one JSON result
per request on stdout, logs on stderr. Runs your own OpenSSH sftp client, so
your ~/.ssh/config, keys, agent, ProxyJump and known_hosts apply.

DESTINATION   sftp://[user@]host[:port][/dir] or [user@]host (an ssh_config
              alias works); /dir is the starting directory, relative to the
              login directory as with sftp (//dir or /%2Fdir for an absolute one)

OpenSSH options, passed to sftp unchanged:
  -F ssh_config       -o option (repeatable)   -i identity_file
  -P port             -J destination

sftper options:
  --framing auto|text|binary   request/result framing (default auto: a first
                               byte of '{' or white space means text)
  --sftp-command "CMD ARGS"    the sftp program and extra arguments, split
                               like a shell would (default: sftp from PATH;
                               also $SFTPER_SFTP_COMMAND)
  --connect-timeout DURATION   bound on connecting, e.g. 30s (default 30s)
  --stall-timeout DURATION     a request during which sftp moves no data for
                               this long is an error, and sftp is stopped
                               (default 2m)
  --password-file FILE         the password or key passphrase to give ssh when
                               it asks (FILE must not be readable by others;
                               also $SFTPER_PASSWORD; the file wins)
  --mode session|batch         session (default): one persistent sftp on a
                               pseudo-terminal; batch: each request as a
                               generated "sftp -b" script (BatchMode=yes),
                               sharing one connection through a ControlMaster
  --sessions N                 up to N sftp sessions side by side on the one
                               login, started while requests wait (default
                               1; 1 to 64): for many files over a network
  --unordered                  write each result as soon as it is done, with
                               its request's id (every request needs one),
                               instead of in request order
  --help, --version
`

// maxSessions bounds --sessions: a server takes few sessions on one
// connection (OpenSSH's MaxSessions and ProFTPD's SFTPMaxChannels are 10
// by default), and beyond a few dozen sftp processes a machine spends more
// on them than it gains.
const maxSessions = 64

// options is the parsed command line.
type options struct {
	sshArgs        []string // -F -o -i -P -J, in the order given
	framing        proto.Framing
	program        []string
	connectTimeout time.Duration
	stallTimeout   time.Duration
	batch          bool // --mode batch
	sessions       int  // --sessions
	unordered      bool // --unordered
	passwordFile   string
	destination    string // as sftp takes it, without a path
	startDir       string
	help, version  bool
}

// parseArgs reads the command line the way OpenSSH tools do: short options
// take a value either attached (-oX=Y) or as the next word, long options
// take --name=value or --name value, and "--" ends the options.
func parseArgs(args []string, getenv func(string) string) (*options, error) {
	o := &options{framing: proto.FramingAuto, connectTimeout: 30 * time.Second, stallTimeout: driver.DefaultStallTimeout, sessions: 1}
	sftpCommand, haveCommand := "", false
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func(name, attached string, hasAttached bool) (string, error) {
			if hasAttached {
				return attached, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", name)
			}
			i++
			return args[i], nil
		}
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, v, has := strings.Cut(a[2:], "=")
			switch name {
			case "help":
				o.help = true
			case "version":
				o.version = true
			case "unordered":
				o.unordered = true
			case "framing", "sftp-command", "connect-timeout", "stall-timeout", "mode", "password-file", "sessions":
				val, err := value("--"+name, v, has)
				if err != nil {
					return nil, err
				}
				switch name {
				case "framing":
					if o.framing, err = proto.ParseFraming(val); err != nil {
						return nil, err
					}
				case "sftp-command":
					sftpCommand, haveCommand = val, true
				case "connect-timeout":
					if o.connectTimeout, err = parseTimeout("connect", val); err != nil {
						return nil, err
					}
				case "stall-timeout":
					if o.stallTimeout, err = parseTimeout("stall", val); err != nil {
						return nil, err
					}
					if o.stallTimeout < time.Second {
						// Checked every eighth of it: below a second,
						// an ordinary pause between two reads would
						// count as a stall.
						return nil, fmt.Errorf("stall timeout must be at least 1s, got %q", val)
					}
				case "sessions":
					n, err := strconv.Atoi(val)
					if err != nil || n < 1 || n > maxSessions {
						return nil, fmt.Errorf("bad --sessions %q (want a whole number from 1 to %d)", val, maxSessions)
					}
					o.sessions = n
				case "password-file":
					if val == "" {
						return nil, errors.New("--password-file needs a file name")
					}
					o.passwordFile = val
				case "mode":
					switch val {
					case "session":
						o.batch = false
					case "batch":
						o.batch = true
					default:
						return nil, fmt.Errorf("bad mode %q (want session or batch)", val)
					}
				}
			default:
				return nil, fmt.Errorf("unknown option --%s", name)
			}
			if (name == "help" || name == "version" || name == "unordered") && has {
				return nil, fmt.Errorf("option --%s takes no value", name)
			}
		case len(a) > 1 && a[0] == '-':
			letter := a[1]
			attached, has := a[2:], len(a) > 2
			switch letter {
			case 'h':
				if has {
					return nil, fmt.Errorf("unknown option %s", a)
				}
				o.help = true
			case 'F', 'o', 'i', 'P', 'J':
				val, err := value("-"+string(letter), attached, has)
				if err != nil {
					return nil, err
				}
				if letter == 'P' {
					if n, err := strconv.Atoi(val); err != nil || n < 1 || n > 65535 {
						return nil, fmt.Errorf("bad port %q", val)
					}
				}
				o.sshArgs = append(o.sshArgs, "-"+string(letter), val)
			default:
				return nil, fmt.Errorf("unknown option %s", a)
			}
		default:
			positional = append(positional, a)
		}
	}
	if o.help || o.version {
		return o, nil
	}
	switch len(positional) {
	case 0:
		return nil, errors.New("missing DESTINATION")
	case 1:
	default:
		return nil, fmt.Errorf("unexpected argument %q after DESTINATION", positional[1])
	}
	var err error
	if o.destination, o.startDir, err = parseDestination(positional[0]); err != nil {
		return nil, err
	}
	if !haveCommand {
		sftpCommand = getenv("SFTPER_SFTP_COMMAND")
	}
	if sftpCommand != "" {
		if o.program, err = shlex.Split(sftpCommand); err != nil {
			return nil, fmt.Errorf("sftp command %q: %v", sftpCommand, err)
		}
		if len(o.program) == 0 {
			return nil, fmt.Errorf("sftp command %q names no program", sftpCommand)
		}
	}
	return o, nil
}

func parseTimeout(what, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		// A bare number is seconds, as in ssh's ConnectTimeout.
		n, nerr := strconv.ParseFloat(s, 64)
		if nerr != nil {
			return 0, fmt.Errorf("bad %s timeout %q (want a duration such as 30s)", what, s)
		}
		d = time.Duration(n * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s timeout must be positive, got %q", what, s)
	}
	return d, nil
}

// plainHost is [user@]host, host a name or a bracketed IPv6 address. A
// colon elsewhere would make sftp read a path (host:path), which for a file
// means a one-shot download: the URL form is the way to give a directory.
var plainHost = regexp.MustCompile(`^([^@\s/:]+@)?([^@\s/:\[\]-][^@\s/:\[\]]*|\[[0-9A-Fa-f:.]+(%[^\]\s]+)?\])$`)

// parseDestination splits DESTINATION into what sftp connects to and the
// starting directory, which sftper changes to itself. The path of an
// sftp:// URL follows OpenSSH: the part after the host's slash,
// percent-decoded, relative to the login directory.
func parseDestination(d string) (dest, dir string, err error) {
	if len(d) >= 7 && strings.EqualFold(d[:7], "sftp://") {
		rest := d[7:]
		authority, p, hasPath := strings.Cut(rest, "/")
		if authority == "" || strings.ContainsAny(authority, " \t\r\n") || authority[0] == '-' {
			return "", "", fmt.Errorf("bad DESTINATION %q", d)
		}
		if hasPath && p != "" {
			if dir, err = url.PathUnescape(p); err != nil {
				return "", "", fmt.Errorf("bad path in DESTINATION %q: %v", d, err)
			}
		}
		return "sftp://" + authority, dir, nil
	}
	if !plainHost.MatchString(d) {
		return "", "", fmt.Errorf("bad DESTINATION %q (want sftp://[user@]host[:port][/dir] or [user@]host)", d)
	}
	return d, "", nil
}

// readSecret reads the password or passphrase for ssh: from the file given
// with --password-file, which must be a regular file that only its owner
// can read or write (as ssh demands of private keys), else from
// $SFTPER_PASSWORD. One trailing newline is not part of it. The variable
// is removed from sftper's environment either way, so that no child
// inherits it.
func readSecret(file string, getenv func(string) string) (*driver.Secret, error) {
	env := getenv("SFTPER_PASSWORD")
	os.Unsetenv("SFTPER_PASSWORD")
	var secret []byte
	var source string
	switch {
	case file != "":
		fi, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("password file: %v", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("password file %s is not a regular file", file)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("password file %s has mode %04o: others may read it; chmod 600 it first", file, perm)
		}
		if secret, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("password file: %v", err)
		}
		source = "password from --password-file " + file
	case env != "":
		secret, source = []byte(env), "password from SFTPER_PASSWORD"
	default:
		return nil, nil
	}
	secret = bytes.TrimSuffix(secret, []byte("\n"))
	secret = bytes.TrimSuffix(secret, []byte("\r"))
	if len(secret) == 0 {
		return nil, fmt.Errorf("the %s is empty", source)
	}
	if bytes.ContainsAny(secret, "\n\r\x00") {
		return nil, fmt.Errorf("the %s holds more than one line", source)
	}
	return driver.NewSecret(secret, source), nil
}
