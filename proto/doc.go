// Package proto is sftper's wire codec: bytes in, typed requests out; typed
// responses in, bytes out.
//
// A script drives sftper by writing JSON requests to its stdin and reading
// one JSON response per request, in order, from its stdout. A request looks
// like
//
//	{"command": "put", "args": {"source": "a.txt", "dest": "/up/a.txt"}, "id": 7}
//
// and decodes to a [Request] whose Op is one of [Put], [Get], [ListDir] or
// [Delete]. A response is a [Response], encoded as
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
// What proto does not do: it knows nothing of sftp, paths, quoting or
// files. An argument is checked only for being a non-empty JSON string; a
// request's arguments are passed on exactly as the client wrote them, and
// whether they can be used is for the packages that use them to decide.
// It does not run requests, time them out, or decide what a response says.
package proto
