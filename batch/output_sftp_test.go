package batch

import (
	"path/filepath"
	"strings"
	"testing"
)

// The real sftp's messages about long paths are marked as cut exactly when
// OpenSSH cut them. A name of two-byte characters (each escaped as two
// \ooo, 8 bytes) cuts the message in an escape or between two, depending
// on how long the path in front is: the directory's name shifts it by one
// byte at a time through every offset.
func TestSftpMessageCut(t *testing.T) {
	tmp := scratchDir(t)
	p := startSftp(t, tmp)
	long := strings.Repeat("ü", 127)
	for pad := 1; pad <= 8; pad++ {
		dir := filepath.Join(tmp, strings.Repeat("d", pad))
		write(t, filepath.Join(dir, "keep"), "")
		for _, tc := range []struct {
			name string
			cut  bool
		}{{long, true}, {"short", false}} {
			path := dir + "/" + tc.name
			out := p.run(must(Remove(path)))
			msgs := Messages(out)
			if len(msgs) != 1 {
				t.Fatalf("rm of %q printed %q, want one message", path, out)
			}
			if got := strings.HasSuffix(msgs[0], CutMark); got != tc.cut {
				var raw int
				for _, ln := range out {
					if strings.HasSuffix(ln, "\r") {
						raw = len(ln) - 1
					}
				}
				t.Errorf("rm of a %d-byte path: message of %d bytes marked cut: %v, want %v", len(path), raw, got, tc.cut)
			}
			if want := "remote delete " + path + ": No such file or directory"; !tc.cut && msgs[0] != want {
				t.Errorf("message %q, want %q", msgs[0], want)
			}
		}
	}
}
