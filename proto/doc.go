// Package proto is sftper's wire codec: bytes in, typed requests out; typed
// responses in, bytes out.
//
// A script drives sftper by writing JSON requests to its stdin and reading
// one JSON response per request, in order, from its stdout. A request looks
// like
//
//	{"command": "put", "args": {"source": "a.txt", "dest": "/up/a.txt"}, "id": 7}
//
// and decodes to a [Request] whose Op is what the caller's [Commands] entry
// for the name ("PUT", matched in any case) built from the arguments, which
// it reads through [Args]. proto has no commands of its own: package
// command holds sftper's table. A response is a [Response], encoded as
//
//	{"status":"ok","message":"","data":null,"id":7}
//
// Two framings carry the JSON (see [Framing]): text, one object per line,
// and binary, each object prefixed by its length as a 4-byte big-endian
// unsigned integer. Responses always use the framing of the requests.
// Every frame or line is bounded by [MaxFrame].
//
// Errors come in two kinds. A [*BadRequest] is one request that could never
// succeed (not JSON, unknown command, missing argument, ...): the caller
// answers it with status "fail" and reads on. An error wrapping
// [ErrStreamBroken] means the input can no longer be split into requests
// (an impossible binary length, a truncated frame, a failed read): the
// caller answers "fail" once and stops.
//
// File names are bytes and JSON strings are text, so names travel in one
// representation both ways, Python's "surrogateescape" (PEP 383): valid
// UTF-8 as itself, and each byte that is not part of valid UTF-8 as the
// escape of the lone low surrogate U+DC00 + the byte, \udc80..\udcff (the
// byte 0xff is "\udcff"). A [Name] in a response is written that way, and
// [Args.Str] reads each \udc80..\udcff that stands alone as its byte, so a
// name sftper listed can be sent back exactly. In Python, os.fsencode of
// json.loads gives the bytes back, and json.dumps (ensure_ascii on, its
// default) of os.fsdecode(b) is read by Str as b. A request holding raw
// bytes that are not UTF-8, or any other lone surrogate escape, is
// refused. Escaped bytes that form UTF-8 are that UTF-8 ("\udcc3\udca9"
// is "é"); a Name never writes them so. A reader that does not know the
// convention (encoding/json) sees U+FFFD for each escaped byte.
//
// A request that was valid but failed is answered "error" with a [Kind] in
// its data; [Error] is a failure with its kind, unwrapping to the fs
// sentinels, and [KindOf] finds the kind of any error.
//
// What proto does not do: it knows nothing of sftp, paths, quoting or
// files, nor which commands exist. An argument is checked only for its
// JSON type (a string must also be non-empty and must not have a lone
// surrogate that stands for no byte); it may hold any bytes, NUL too. A
// request's arguments are passed on exactly as the client wrote them, and
// whether they can be used is for the packages that use them to decide.
// It does not run requests, time them out, or decide what a response says.
package proto
