// Package command is sftper's command table: what each command takes,
// what it asks sftp, what it makes of sftp's answer, and what it must not
// overlap with.
//
// Each command is one entry (table.go), defined in its own file: put.go,
// get.go, listdir.go, delete.go, hello.go. An entry holds the command's
// name, its argument decoder (given to proto's codec through Decoders),
// the function that checks a request and sends its sftp line (built by
// package batch, which owns quoting), the function that turns sftp's
// output into a typed result or a typed error, and the command's effects,
// from which hazard.go decides which requests must not overlap. A new
// command is a new file and one line in the table.
//
// A Runner carries requests out on one driver.Conn: Begin starts one and
// returns a Job whose Result is the response; Conflicts says whether a
// request must wait for an earlier one. respond.go is the one place that
// turns a result or an error into a proto.Response: "ok" with the
// command's data; "error" with data {"kind": ...} (see proto.Kind; the
// kinds of sftp's messages come from batch, those of the connection from
// driver.ConnError) and what else the command says, such as PUT's
// "remote"; "fail", with no kind, for a request that could never succeed.
//
// What command does not do: read or write the wire (proto), quote paths or
// read sftp's text (batch), run sftp (driver), or decide the order of
// requests in flight (the caller, using Conflicts).
package command
