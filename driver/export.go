package driver

// What package command, which carries out the requests, needs of driver's
// internals. Kept apart so that driver's own files need not change for it.

// Done is closed when sftp is done with the command (Wait then returns at
// once).
func (p *Pending) Done() <-chan struct{} { return p.done }

// PartName names a GET's download file, beside its destination: see
// leftovers.go for the name's form and who may remove it.
func PartName() string { return partName() }

// PartNameMax is the longest name PartName gives.
const PartNameMax = partNameMax

// SweepParts removes the downloads of dead sftpers from dir, the first
// time it is called for dir in this run, in the background; Close of either
// Conn waits for the sweeps.
func SweepParts(dir string, logf func(string, ...any)) { sweepParts(dir, logf) }
