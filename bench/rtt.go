package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rttWorkloads are the network case of issue 13: for each round-trip time,
// the many-file PUT and GET and the one-file PUT and GET, every contender
// reaching the server through a delay proxy of its own that holds each
// chunk for half the round trip in each direction. They are numbered from
// first on, four per round trip.
func rttWorkloads(first int, s sizes) []*workload {
	var ws []*workload
	for i, rtt := range s.rtts {
		n := first + 4*i
		for _, w := range []*workload{
			manyPuts(n, s.rttFiles, s.small),
			manyGets(n+1, s.rttFiles, s.small),
			bigPut(n+2, s.rttBig),
			bigGet(n+3, s.rttBig),
		} {
			ws = append(ws, viaProxy(w, rtt))
		}
	}
	return ws
}

// rttJob is what a round-trip workload does, from its number.
type rttJob int

const (
	rttNone    rttJob = iota // not a round-trip workload
	rttPutMany               // the many-file PUT
	rttGetMany               // the many-file GET
	rttPutBig                // the one-file PUT
	rttGetBig                // the one-file GET
)

func (j rttJob) String() string {
	return [...]string{"loopback", "small PUTs", "small GETs", "bulk PUT", "bulk GET"}[j]
}

func (w *workload) rttJob() rttJob {
	if w.rtt == 0 {
		return rttNone
	}
	return rttJob((w.num-10)%4 + 1)
}

// viaProxy makes w run through a delay proxy adding rtt: setup starts the
// proxy in front of the server and renders an ssh_config aimed at it,
// which every contender then gets instead of the server's; teardown stops
// it. The proxy lives for the whole workload, every run a new connection.
func viaProxy(w *workload, rtt time.Duration) *workload {
	w.rtt = rtt
	w.name += " rtt" + fmtRTT(rtt)
	w.about += fmt.Sprintf(", through a delay proxy adding %v each way (%v round trip)", rtt/2, rtt)
	setup, teardown := w.setup, w.teardown
	var p *delayProxy
	w.setup = func(e *env) error {
		var err error
		p, err = startDelayProxy(net.JoinHostPort("127.0.0.1", strconv.Itoa(e.srv.Port)), rtt/2)
		if err != nil {
			return err
		}
		if w.config, err = proxyConfig(e, p.Port, "rtt"+fmtRTT(rtt)); err != nil {
			p.Close()
			return err
		}
		if err := setup(e); err != nil {
			p.Close()
			return err
		}
		return nil
	}
	w.teardown = func(e *env) error {
		err := teardown(e)
		p.Close()
		return err
	}
	return w
}

// fmtRTT writes a round trip the way workload names use it: 20ms, 1.5ms.
func fmtRTT(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + "ms"
}

// proxyConfig writes a copy of the server's ssh_config, the same Host
// alias, aimed at port on 127.0.0.1 (the delay proxy), and a copy of its
// known_hosts that also trusts the server's host key on that port: ssh and
// paramiko look a host key up by "[127.0.0.1]:PORT", so the server's own
// line would not match. paramiko and the pkg/sftp client read host and
// port from this config, as sftp, sftper and scp do through -F.
func proxyConfig(e *env, port int, tag string) (string, error) {
	conf, err := os.ReadFile(e.srv.SSHConfig)
	if err != nil {
		return "", err
	}
	kh, err := os.ReadFile(e.srv.KnownHosts)
	if err != nil {
		return "", err
	}
	from := fmt.Sprintf("[127.0.0.1]:%d ", e.srv.Port)
	to := fmt.Sprintf("[127.0.0.1]:%d ", port)
	var khOut []string
	for l := range strings.Lines(string(kh)) {
		khOut = append(khOut, strings.TrimRight(l, "\n"))
		if rest, ok := strings.CutPrefix(l, from); ok {
			khOut = append(khOut, to+strings.TrimRight(rest, "\n"))
		}
	}
	if len(khOut) == len(strings.Split(strings.TrimRight(string(kh), "\n"), "\n")) {
		return "", fmt.Errorf("%s has no line for %s", e.srv.KnownHosts, strings.TrimSpace(from))
	}
	knownHosts := filepath.Join(e.work, "known_hosts_"+tag)
	if err := os.WriteFile(knownHosts, []byte(strings.Join(khOut, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	var out []string
	ports, khs := 0, 0
	for l := range strings.Lines(string(conf)) {
		l = strings.TrimRight(l, "\n")
		f := strings.Fields(l)
		switch {
		case len(f) == 2 && strings.EqualFold(f[0], "Port"):
			if f[1] != strconv.Itoa(e.srv.Port) {
				return "", fmt.Errorf("%s: %q, want the server's port %d", e.srv.SSHConfig, l, e.srv.Port)
			}
			l = strings.Replace(l, f[1], strconv.Itoa(port), 1)
			ports++
		case len(f) == 2 && strings.EqualFold(f[0], "UserKnownHostsFile"):
			l = strings.Replace(l, f[1], knownHosts, 1)
			khs++
		}
		out = append(out, l)
	}
	if ports != 1 || khs != 1 {
		return "", fmt.Errorf("%s: %d Port and %d UserKnownHostsFile lines, want one of each", e.srv.SSHConfig, ports, khs)
	}
	config := filepath.Join(e.work, "ssh_config_"+tag)
	return config, os.WriteFile(config, []byte(strings.Join(out, "\n")+"\n"), 0o644)
}
