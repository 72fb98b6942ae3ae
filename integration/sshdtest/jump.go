package sshdtest

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// Host names in the ssh_config that ProxyJumpConfig and ProxyCommandConfig
// write.
const (
	JumpAlias   = "sftper-jump"   // the server in between, A
	TargetAlias = "sftper-target" // the server reached through A, B
)

// ProxyJumpConfig writes an ssh_config with two hosts: JumpAlias for jump
// (A) and TargetAlias for target (B), each with its own key, user and
// known_hosts, TargetAlias having "ProxyJump sftper-jump". So
// `sftp -F CONFIG sftper-target` logs in to A, has A open a TCP
// connection to B's port (ssh -W), and logs in to B through it. ssh passes
// -F CONFIG on to the ssh it starts for the jump. The config lives in A's
// Dir.
//
// A allows TCP forwarding. To see the forwarding in A's log, start A with
// Options.LogLevel "DEBUG1" and ask A.ForwardedTo(B.Port); B.Logins and
// A.Logins both count the login.
func ProxyJumpConfig(jump, target *Server) (string, error) {
	return jumpConfig(jump, target, "proxyjump", func(string) string {
		return "ProxyJump " + JumpAlias
	})
}

// ProxyCommandConfig is ProxyJumpConfig with the older spelling of the
// same thing: TargetAlias has
// "ProxyCommand /usr/bin/ssh -F CONFIG -W %h:%p sftper-jump" (the ssh
// found in PATH) instead of ProxyJump.
func ProxyCommandConfig(jump, target *Server) (string, error) {
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		return "", fmt.Errorf("ssh not found: %w", err)
	}
	if ssh, err = filepath.Abs(ssh); err != nil {
		return "", err
	}
	return jumpConfig(jump, target, "proxycommand", func(config string) string {
		// Paths here have no spaces or quotes; checkSearchable saw to it.
		return "ProxyCommand " + ssh + " -F " + config + " -W %h:%p " + JumpAlias
	})
}

func jumpConfig(jump, target *Server, kind string, via func(config string) string) (string, error) {
	config := filepath.Join(jump.Dir, fmt.Sprintf("ssh_config_%s_%d", kind, jump.seq.Add(1)))
	lines := jump.hostBlock(JumpAlias, []string{
		"IdentityFile " + jump.KeyFile,
		"IdentitiesOnly yes",
		"IdentityAgent none",
		"UserKnownHostsFile " + jump.KnownHosts,
		"StrictHostKeyChecking yes",
	})
	lines = append(lines, target.hostBlock(TargetAlias, []string{
		"IdentityFile " + target.KeyFile,
		"IdentitiesOnly yes",
		"IdentityAgent none",
		"UserKnownHostsFile " + target.KnownHosts,
		"StrictHostKeyChecking yes",
		via(config),
	})...)
	return config, writeLines(config, lines)
}
