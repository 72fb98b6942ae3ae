package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/sftper/sftper/proto"
	"github.com/sftper/sftper/sftpwire"
)

// DF {"path": REMOTE}: the size and free space of the file system that
// holds path (the starting directory when path is not given), in bytes,
// from the server's statvfs (the statvfs@openssh.com extension, which
// OpenSSH's and the Green End server have): data {"total", "free",
// "avail"}, where avail is what the login user may use (free less what is
// kept for root). A server without the extension gives an error of kind
// unsupported.
var dfCommand = entry("DF", decodeDf, func(op Df) []Effect { return readsRemote(op.Path) }, startDf)

// Df asks for the space on the file system of Path.
type Df struct{ Path string }

func (Df) Name() string { return "DF" }

func decodeDf(a *proto.Args) Df {
	p, ok := a.OptStr("path")
	if !ok {
		p = "."
	}
	return Df{Path: p}
}

// Space is the data of an ok DF.
type Space struct {
	Total uint64 `json:"total"`
	Free  uint64 `json:"free"`
	Avail uint64 `json:"avail"`
}

func startDf(e *env, op Df) step {
	return e.callRemote(op.Path, func(ctx context.Context, c *sftpwire.Client, abs string) (Result, error) {
		v, err := c.StatVFS(ctx, abs)
		if errors.Is(err, sftpwire.ErrUnsupported) {
			return Result{}, proto.Errorf(proto.KindUnsupported, fmt.Sprintf("df %q: the server does not say how much space it has (no statvfs@openssh.com extension)", op.Path))
		}
		if err != nil {
			return Result{}, remoteError("df", op.Path, err)
		}
		// f_blocks and the free counts are in units of f_frsize
		// (statvfs(3)); a server that sends no fragment size means
		// the block size.
		unit := v.FragmentSize
		if unit == 0 {
			unit = v.BlockSize
		}
		s := Space{Total: v.Blocks * unit, Free: v.BlocksFree * unit, Avail: v.BlocksAvail * unit}
		return Result{Message: fmt.Sprintf("%d of %d bytes free (%d available)", s.Free, s.Total, s.Avail), Data: &s}, nil
	})
}
