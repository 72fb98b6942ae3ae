// Package sftpwire speaks SFTP version 3 (draft-ietf-secsh-filexfer-02,
// the version OpenSSH speaks) on a stream of packets: the packets' bytes
// (packet.go), file attributes (attrs.go), status codes and what they mean
// (status.go), and a small client that sends the requests sftper needs
// no `sftp` command for: reading attributes and directories (client.go),
// changing the file system by path (paths.go: directories, removal,
// renames, attributes, links, file system statistics), and reading and
// writing files through handles (files.go). Of OpenSSH's extensions it
// uses posix-rename, lsetstat, hardlink, statvfs and fsync when the
// server announces them, and says ErrUnsupported when not. It does not
// do transfers (pipelined reads and writes, retries, resuming): those
// are its callers', built of its requests.
//
// It knows nothing of ssh: the stream is whatever carries an SFTP
// subsystem (an ssh channel's stdin and stdout; in tests, a server program
// run directly). Every length read from the peer is checked against what
// is left of its packet before anything is allocated for it, and a packet
// longer than MaxPacket is refused, so what one packet of a hostile or
// broken server can cost is bounded: MaxPacket bytes read, and what they
// decode to, at most about eight times as much (a NAME entry takes 12
// bytes at the least and is a 96-byte Name). A listing is many packets:
// it is bounded by the caller's ctx, not by this package.
//
// Names and paths are Go strings holding the exact bytes the server sent
// or is to get: SFTP v3 does not say they are UTF-8, and servers on Unix
// send whatever bytes the file system holds.
package sftpwire
