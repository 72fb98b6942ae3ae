package command

import "time"

// Progress reports (a transfer's "progress": true): while the transfer
// runs, its request gets {"status": "progress", "message": "", "data":
// {"bytes": N, "total": M}} at most every progressEvery, and only when
// the count has moved; none once its result is written (the pipeline
// drops a late one). What is counted is what sftp has got through on the
// local side: the bytes of the file it uploads that it has read (Linux
// only: driver.Pending.Offset), the size of the file it downloads into.
// Both run ahead of what the server has acknowledged by at most sftp's
// window of requests in flight (64 of 32 KiB by default).

// progressEvery is the shortest time between two reports on one request.
const progressEvery = 250 * time.Millisecond

// Progress is the data of a progress report.
type Progress struct {
	Bytes int64 `json:"bytes"`
	Total int64 `json:"total"`
}

// watch reports what measure says every progressEvery, when it has moved,
// until done is closed. It does nothing when no reports are wanted.
func (e *env) watch(done <-chan struct{}, measure func() (Progress, bool)) {
	if e.report == nil || done == nil {
		return
	}
	go func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		var last Progress
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			p, ok := measure()
			if !ok || p == last {
				continue
			}
			last = p
			e.report(p)
		}
	}()
}
