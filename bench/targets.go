package main

import (
	"fmt"
	"slices"
	"time"
)

// printTargets checks the medians of this run against the targets of
// issue 5, one for the trees (8 and 9) added since, and those of issue 13
// (the network case and --sessions), and prints one line per target: met,
// MISSED, or why it could not be judged (a workload or contender left out
// of this run, or a sftper without --sessions).
func printTargets(ws []*workload, cs []*contender, results [][][]measurement) {
	med := func(num int, key string) (time.Duration, bool) {
		for wi, w := range ws {
			if w.num != num {
				continue
			}
			for ci, c := range cs {
				if c.key == key && len(results[wi][ci]) > 0 {
					return median(walls(results[wi][ci])), true
				}
			}
		}
		return 0, false
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	line := func(target, got string, ok, judged bool) {
		v := verdict(ok)
		if !judged {
			v, got = "not judged", "not in this run"
		}
		fmt.Printf("  %-10s  %-66s  %s\n", v, target, got)
	}
	// ratio is a's median over b's, for workload num.
	ratio := func(num int, a, b string) (float64, bool) {
		ma, oka := med(num, a)
		mb, okb := med(num, b)
		if !oka || !okb {
			return 0, false
		}
		return ma.Seconds() / mb.Seconds(), true
	}

	fmt.Println("targets (issue 5; 8 and 9 added since), from the medians above:")
	for _, num := range []int{1, 2} {
		r, ok := ratio(num, "sftper", "sftp")
		line(fmt.Sprintf("%d: sftper's throughput >= 0.95 x sftp's (time <= 1.053x)", num),
			fmt.Sprintf("%.2f x sftp's throughput", 1/r), ok && 1/r >= 0.95, ok)
	}
	if r, ok := ratio(1, "paramiko", "sftper"); true {
		line("1: sftper's PUT throughput >= 5 x paramiko's", fmt.Sprintf("%.1f x paramiko's", r), ok && r >= 5, ok)
	}
	for _, num := range []int{3, 4} {
		r, ok := ratio(num, "sftper", "sftp")
		line(fmt.Sprintf("%d: sftper within 1.1 x sftp -b's time", num), fmt.Sprintf("%.2fx", r), ok && r <= 1.1, ok)
		r, ok = ratio(num, "batch", "sftper")
		line(fmt.Sprintf("%d: sftper batch within 3 x sftper's time", num), fmt.Sprintf("%.2fx", r), ok && r <= 3, ok)
	}
	if r, ok := ratio(5, "sftper", "sftp"); true {
		line("5: sftper within 1.2 x sftp -b's ls time", fmt.Sprintf("%.2fx", r), ok && r <= 1.2, ok)
	}
	for wi, w := range ws {
		if w.num != 7 {
			continue
		}
		for ci, c := range cs {
			if c.key != "sftper" || len(results[wi][ci]) == 0 {
				continue
			}
			var per []time.Duration
			for _, m := range results[wi][ci] {
				per = append(per, m.perResult)
			}
			p := median(per)
			line("7: sftper under 2 ms per round trip", fmt.Sprintf("%.3f ms", float64(p.Microseconds())/1000), p < 2*time.Millisecond, true)
		}
	}
	// Not in issue 5: the recursive PUT and GET came later, and so did
	// this target for them.
	for _, num := range []int{8, 9} {
		r, ok := ratio(num, "sftper", "sftp")
		line(fmt.Sprintf("%d: sftper within 1.5 x sftp -b's time (a tree)", num), fmt.Sprintf("%.2fx", r), ok && r <= 1.5, ok)
	}
	// RSS: the highest peak of sftper's own process over every run of
	// every workload, per mode.
	for _, key := range []string{"sftper", "batch"} {
		var peak int64
		var where string
		judged := false
		for wi, w := range ws {
			for ci, c := range cs {
				if c.key != key {
					continue
				}
				for _, m := range results[wi][ci] {
					judged = true
					if m.ownRSS > peak {
						peak, where = m.ownRSS, fmt.Sprintf("%d %s", w.num, w.name)
					}
				}
			}
		}
		name := map[string]string{"sftper": "sftper", "batch": "sftper batch"}[key]
		line(fmt.Sprintf("all: %s's own peak RSS under 30 MB", name),
			fmt.Sprintf("%.1f MB at most (workload %s)", float64(peak)*1024/1e6, where), judged && peak*1024 < 30e6, judged)
	}

	fmt.Println("targets (issue 13: the network case and --sessions), from the medians above:")
	// rttNum is the number of the round-trip workload of this run with
	// that round trip and job, if there is one.
	rttNum := func(rtt time.Duration, job rttJob) (int, bool) {
		for _, w := range ws {
			if w.rtt == rtt && w.rttJob() == job {
				return w.num, true
			}
		}
		return 0, false
	}
	spread := func(num int, key string) string {
		for wi, w := range ws {
			for ci, c := range cs {
				if w.num == num && c.key == key && len(results[wi][ci]) > 0 {
					ws := walls(results[wi][ci])
					return fmt.Sprintf("%.2f-%.2f", slices.Min(ws).Seconds(), slices.Max(ws).Seconds())
				}
			}
		}
		return "-"
	}
	const small = 20 * time.Millisecond
	for _, job := range []rttJob{rttPutMany, rttGetMany} {
		num, ok := rttNum(small, job)
		label := fmt.Sprintf("%d", num)
		if !ok {
			label = job.String()
		}
		r, judged := ratio(num, "sftp", "sessions8")
		judged = judged && ok
		line(label+": sftper 8 sessions >= 6 x faster than sftp -b (20 ms)", fmt.Sprintf("%.1f x faster", r), judged && r >= 6, judged)
		for _, other := range []struct{ key, name string }{{"paramiko", "paramiko"}, {"pkgsftp", "pkg/sftp"}} {
			r, judged := ratio(num, "sessions8", other.key)
			judged = judged && ok
			line(fmt.Sprintf("%s: sftper 8 sessions faster than %s (20 ms)", label, other.name), fmt.Sprintf("%.2fx its time", r), judged && r < 1, judged)
		}
	}
	// No slower: the median with 4 sessions within 1.05 x the median with
	// one, the allowance the throughput targets of 1 and 2 give noise; the
	// spreads (min-max s, 1 session / 4) are printed beside it, and on
	// this machine one row's rounds of 3 and 4 spread 10 to 30 %, so a
	// MISSED by a few per cent calls for more rounds before any
	// conclusion.
	for _, num := range []int{3, 4} {
		r, ok := ratio(num, "sessions4", "sftper")
		line(fmt.Sprintf("%d: sftper 4 sessions no slower than 1 (<= 1.05x)", num),
			fmt.Sprintf("%.2fx; %s / %s s", r, spread(num, "sftper"), spread(num, "sessions4")), ok && r <= 1.05, ok)
	}
	// The strictly sequential client: sftper's own CPU (user+sys of its
	// process, the connection's start included) over the requests, the
	// median of the rounds; beside it the time against sftp -b's one
	// script of the same transfers.
	for _, row := range []struct {
		num       int
		key, name string
	}{{3, "seq", "one at a time"}, {3, "seqnoatomic", "one at a time, atomic:false"}, {4, "seq", "one at a time"}} {
		var per []time.Duration
		for wi, w := range ws {
			for ci, c := range cs {
				if w.num != row.num || c.key != row.key || len(w.ops) == 0 {
					continue
				}
				for _, m := range results[wi][ci] {
					per = append(per, m.ownCPU/time.Duration(len(w.ops)))
				}
			}
		}
		judged := len(per) > 0
		var p time.Duration
		if judged {
			p = median(per)
		}
		r, _ := ratio(row.num, row.key, "sftp")
		line(fmt.Sprintf("%d: sftper %s: own CPU per request under 40 µs", row.num, row.name),
			fmt.Sprintf("%d µs (%d-%d); time %.2fx sftp -b's", p.Microseconds(), slices.Min(append(per, p)).Microseconds(), slices.Max(append(per, p)).Microseconds(), r),
			judged && p < 40*time.Microsecond, judged)
	}
	// Bulk: at least sftp's throughput, within the same 5 % as 1 and 2.
	const bulk = 100 * time.Millisecond
	for _, job := range []rttJob{rttPutBig, rttGetBig} {
		num, ok := rttNum(bulk, job)
		label := fmt.Sprintf("%d", num)
		if !ok {
			label = job.String()
		}
		r, judged := ratio(num, "sftper", "sftp")
		judged = judged && ok
		line(label+": sftper's throughput >= 0.95 x sftp's (100 ms)", fmt.Sprintf("%.3f x sftp's throughput", 1/r), judged && 1/r >= 0.95, judged)
	}
}
