package command

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/sftper/sftper/sftpwire"
)

// Partial transfers: the temporary files of atomic uploads and resumable
// downloads, and the check that what one holds is where the transfer
// stopped.
//
// A partial file has one name per destination, beside it: .NAME.sftper-part
// for a destination NAME (or .sftper-HASH.part, HASH 16 hex digits of
// SHA-256 of NAME, when that would be longer than a name may be). One
// name, not a random one, so that the next transfer to the same
// destination finds what an interrupted one left, and so that at most one
// is ever left per destination: the next transfer there resumes it or
// writes over it. The price: two programs uploading to the same name at
// the same time share the partial file too, as they share the
// destination; sftper keeps its own requests for one name in order (see
// hazard.go), and other programs must not race it there.

// partSuffix ends the name of a partial file.
const partSuffixName = ".sftper-part"

// nameMax is the longest file name most file systems take (NAME_MAX).
const nameMax = 255

// partOf is the partial file of the destination dest, a path with "/"
// separators (a remote path, or a local one on Unix).
func partOf(dest string) string {
	dir, base := path.Split(strings.TrimSuffix(dest, "/"))
	name := "." + base + partSuffixName
	if len(name) > nameMax {
		sum := sha256.Sum256([]byte(base))
		name = ".sftper-" + hex.EncodeToString(sum[:8]) + ".part"
	}
	return dir + name
}

// How much of the source a partial file is checked against: its first
// headCheck bytes and the last tailCheck bytes it holds, two reads of the
// remote file sent together (one round trip). A file that matches in both
// places is taken to be the source's beginning: cheap, and what catches
// a partial file of another source or of an older version of this one,
// whose ends differ. It cannot catch a change in the middle that leaves
// both ends alone; a client that needs that certainty does not resume.
const (
	headCheck = 4 << 10
	tailCheck = 32 << 10
)

// Resumed is what a resumable transfer found: how many bytes of the source
// its destination (or partial file) already held and were kept, and
// whether one was there that was not the source's beginning and was
// started again.
type Resumed struct {
	Kept      int64
	Complete  bool // Kept is the whole source: nothing is left to send
	Restarted bool
}

// samePrefix reports whether the remote file at p holds the first have
// bytes of local (checked at both ends, see headCheck), reading them on
// the channel.
func samePrefix(ctx context.Context, c *sftpwire.Client, p string, local io.ReaderAt, have int64) (bool, error) {
	if have == 0 {
		return true, nil
	}
	h, err := c.Open(ctx, p, sftpwire.FlagRead, sftpwire.Attrs{})
	if err != nil {
		return false, err
	}
	defer c.CloseHandle(ctx, h)
	type part struct {
		off int64
		n   int64
	}
	parts := []part{{0, min(have, headCheck)}}
	if have > headCheck {
		n := min(have-headCheck, tailCheck)
		parts = append(parts, part{have - n, n})
	}
	got := make([][]byte, len(parts))
	errs := make(chan error, len(parts))
	for i, pt := range parts {
		go func() {
			b, err := readFull(ctx, c, h, pt.off, pt.n)
			got[i] = b
			errs <- err
		}()
	}
	for range parts {
		if err := <-errs; err != nil {
			return false, err
		}
	}
	for i, pt := range parts {
		want := make([]byte, pt.n)
		if _, err := local.ReadAt(want, pt.off); err != nil {
			return false, err
		}
		if !bytes.Equal(got[i], want) {
			return false, nil
		}
	}
	return true, nil
}

// readFull reads n bytes of the remote file h from off; a file that ends
// first gives what it has.
func readFull(ctx context.Context, c *sftpwire.Client, h sftpwire.Handle, off, n int64) ([]byte, error) {
	var b []byte
	for int64(len(b)) < n {
		chunk, err := c.Read(ctx, h, uint64(off)+uint64(len(b)), uint32(min(n-int64(len(b)), 32<<10)))
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		b = append(b, chunk...)
	}
	return b, nil
}

// remoteResume decides how an upload of local (size bytes) into the
// remote file p goes on: from the size p has, when p holds the source's
// beginning; from the start when p is not there, is longer, or differs.
func remoteResume(ctx context.Context, c *sftpwire.Client, p string, local *os.File, size int64) (Resumed, error) {
	a, err := c.Lstat(ctx, p)
	if err != nil {
		if _, refused := kindOf(err); refused {
			return Resumed{}, nil // not there (or not to be seen): from the start
		}
		return Resumed{}, err
	}
	if !a.Has(sftpwire.AttrSize) || a.Permissions&modeType != modeRegular {
		return Resumed{Restarted: true}, nil
	}
	have := int64(a.Size)
	if have > size {
		return Resumed{Restarted: true}, nil
	}
	same, err := samePrefix(ctx, c, p, local, have)
	if err != nil {
		if _, refused := kindOf(err); refused {
			return Resumed{Restarted: true}, nil
		}
		return Resumed{}, err
	}
	if !same {
		return Resumed{Restarted: true}, nil
	}
	return Resumed{Kept: have, Complete: have == size && have > 0}, nil
}

// describeResumed is what a message says of it: ", resumed after 10
// bytes", ", started again".
func describeResumed(r *Resumed) string {
	switch {
	case r == nil:
		return ""
	case r.Restarted:
		return " (what was there was not its beginning: started again)"
	case r.Kept > 0:
		return fmt.Sprintf(" (resumed after %d bytes)", r.Kept)
	}
	return ""
}
