package sftpwire

import (
	"context"
	"errors"
	"fmt"
)

// The requests that change the file system by path, and the extensions
// of OpenSSH that some of them need.
//
// Each is answered by STATUS alone, but for StatVFS. What comes back: nil
// for SSH_FX_OK; the server's *StatusError for any other status; an error
// wrapping ErrUnsupported, with nothing sent, for an extension the server
// did not announce; an error, with nothing sent, for a request that would
// not fit in MaxPacket; and, as for ReadDir, ctx's error wrapped, or a
// *ClosedError once the client is closed (a timeout, the stream's end, an
// answer that breaks the protocol, Close).

// withAttrs is a request of o whose fields are a path and attributes.
func (c *Client) withAttrs(o op, path string, a Attrs) ([]byte, error) {
	if err := checkAttrs(a); err != nil {
		return nil, fmt.Errorf("SFTP %s: %w", o, err)
	}
	return appendAttrs(appendString(o.begin(4+len(path)+attrsSize(&a)), path), &a), nil
}

// Mkdir is SSH_FXP_MKDIR: it makes the directory path with the
// attributes a has flags for; a zero Attrs sends none (flags 0), and the
// server then uses its default mode (OpenSSH: 0777 less its umask).
// OpenSSH's server uses only the permissions of a; an existing path is a
// refusal (SSH_FX_FAILURE on OpenSSH and the Green End server). An Attrs
// with flags draft-02 does not define is refused before sending (see
// Setstat).
func (c *Client) Mkdir(ctx context.Context, path string, a Attrs) error {
	pkt, err := c.withAttrs(opMkdir, path, a)
	if err != nil {
		return err
	}
	return c.do(ctx, opMkdir, pkt)
}

// Rmdir is SSH_FXP_RMDIR: it removes the empty directory path. A
// directory with entries is refused (OpenSSH and the Green End server say
// SSH_FX_FAILURE, not a later draft's SSH_FX_DIR_NOT_EMPTY: only the
// Green End server's message, strerror's, tells it apart).
func (c *Client) Rmdir(ctx context.Context, path string) error {
	return c.do(ctx, opRmdir, opRmdir.strings(path))
}

// Remove is SSH_FXP_REMOVE: it removes the file (or symlink, not
// followed) path. A directory is refused.
func (c *Client) Remove(ctx context.Context, path string) error {
	return c.do(ctx, opRemove, opRemove.strings(path))
}

// Rename is SSH_FXP_RENAME: oldpath becomes newpath. Draft-02 leaves open
// what happens when newpath exists; OpenSSH's server refuses it
// (SSH_FX_FAILURE: it links the file to newpath and unlinks oldpath, so
// as never to replace a file), and so does the Green End server. To
// replace newpath, use PosixRename.
func (c *Client) Rename(ctx context.Context, oldpath, newpath string) error {
	return c.do(ctx, opRename, opRename.strings(oldpath, newpath))
}

// PosixRename is posix-rename@openssh.com: rename(2) on the server, so
// that newpath, if it exists, is replaced atomically (a reader sees the
// old file or the new, never neither). An error wrapping ErrUnsupported,
// with nothing sent, when the server did not announce the extension.
func (c *Client) PosixRename(ctx context.Context, oldpath, newpath string) error {
	if err := c.supports(opPosixRename); err != nil {
		return err
	}
	return c.do(ctx, opPosixRename, opPosixRename.strings(oldpath, newpath))
}

// Setstat is SSH_FXP_SETSTAT: it sets the attributes of path (following
// symlinks) that a has flags for. AttrSize truncates or extends the file;
// AttrUIDGID changes its owner; AttrPermissions its mode (OpenSSH's
// server keeps the low twelve bits); AttrACModTime its atime and mtime in
// whole seconds. Servers apply the fields one after another, so a refusal
// may come after some were set.
//
// Flags draft-02 does not define (bits Stat may have carried back) have
// no fields in version 3, and a server may refuse or misread them: such
// an Attrs is refused with an error, nothing sent.
func (c *Client) Setstat(ctx context.Context, path string, a Attrs) error {
	pkt, err := c.withAttrs(opSetstat, path, a)
	if err != nil {
		return err
	}
	return c.do(ctx, opSetstat, pkt)
}

// Lsetstat is lsetstat@openssh.com: Setstat without following a symlink
// at path (its own times are set; OpenSSH's server refuses its
// permissions, which Linux cannot change). An error wrapping
// ErrUnsupported, with nothing sent, when the server did not announce the
// extension (the Green End server does not).
func (c *Client) Lsetstat(ctx context.Context, path string, a Attrs) error {
	if err := c.supports(opLsetstat); err != nil {
		return err
	}
	pkt, err := c.withAttrs(opLsetstat, path, a)
	if err != nil {
		return err
	}
	return c.do(ctx, opLsetstat, pkt)
}

// symlinkOrder is the Green End server's extension saying which order it
// reads SYMLINK's two paths in: "linkpath-targetpath" (draft-02's) or
// "targetpath-linkpath" (OpenSSH's).
const symlinkOrder = "symlink-order@rjk.greenend.org.uk"

// Symlink creates linkpath as a symlink holding target, as `ln -s target
// linkpath` does: target is stored as it is, not resolved. An existing
// linkpath is refused (SSH_FX_FAILURE on OpenSSH and the Green End
// server).
//
// SSH_FXP_SYMLINK has two paths, and servers disagree on their order.
// Draft-02 puts linkpath first; OpenSSH's sftp-server reads targetpath
// first, and OpenSSH's sftp sends that. Run as children and sent a SYMLINK
// of ("first", "second") where "first" exists (server_test.go,
// TestServerSymlinkOrder, does it again each run), OpenSSH's sftp-server
// 9.2 made "second" a link to "first"; Debian's gesftpserver 2 refused
// ("File exists") because it made "first" the link, and announces
// symlink-order@rjk.greenend.org.uk with the data "linkpath-targetpath"
// (its source sends "targetpath-linkpath" instead when built with
// --enable-reversed-symlink). ProFTPD's mod_sftp 1.3.8, reached through
// OpenSSH's ssh, announces no such extension and made "second" the link,
// as OpenSSH does; its source (fxp_handle_symlink in fxp.c) reads
// targetpath first from every client, on purpose, citing OpenSSH's bug
// 861.
//
// So Symlink sends the order symlink-order@rjk.greenend.org.uk announces,
// and OpenSSH's order when it is not announced. An announced order other
// than those two is an error wrapping ErrUnsupported, with nothing sent:
// a guess could make a link named after its own target.
func (c *Client) Symlink(ctx context.Context, target, linkpath string) error {
	first, second := target, linkpath
	if order, ok := c.extension(symlinkOrder); ok {
		switch order {
		case "targetpath-linkpath":
		case "linkpath-targetpath":
			first, second = linkpath, target
		default:
			return fmt.Errorf("SFTP SYMLINK: the server announces %s %q, an order this client does not know: %w", symlinkOrder, order, ErrUnsupported)
		}
	}
	return c.do(ctx, opSymlink, opSymlink.strings(first, second))
}

// Hardlink is hardlink@openssh.com: link(2) on the server, making newpath
// a second name of the file oldpath. An existing newpath is refused. An
// error wrapping ErrUnsupported, with nothing sent, when the server did
// not announce the extension.
func (c *Client) Hardlink(ctx context.Context, oldpath, newpath string) error {
	if err := c.supports(opHardlink); err != nil {
		return err
	}
	return c.do(ctx, opHardlink, opHardlink.strings(oldpath, newpath))
}

// StatVFS is statvfs@openssh.com: statvfs(3) of the file system path is
// on, as `df` in OpenSSH's sftp shows it. An error wrapping
// ErrUnsupported, with nothing sent, when the server did not announce the
// extension; a refusal is a *StatusError. The answer is an
// EXTENDED_REPLY of eleven uint64s: a shorter one is a *ProtocolError
// and closes the client.
func (c *Client) StatVFS(ctx context.Context, path string) (StatVFS, error) {
	if err := c.supports(opStatVFS); err != nil {
		return StatVFS{}, err
	}
	r, err := c.roundTrip(ctx, opStatVFS, opStatVFS.strings(path))
	if err != nil {
		return StatVFS{}, err
	}
	if r.typ == fxpStatus {
		return StatVFS{}, c.refusal(opStatVFS, r)
	}
	s, err := decodeStatVFS(r.reply)
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return StatVFS{}, c.broken(pe)
	}
	return s, nil
}
