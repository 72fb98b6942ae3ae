package driver

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWatchProcExitedBeforeRead: a process that has already exited (a
// zombie, not yet reaped) when the watch starts is reported gone. The
// poller sees the pidfd ready at once, and its Read forgets that before
// asking; a watch that trusted the poller alone would wait forever.
func TestWatchProcExitedBeforeRead(t *testing.T) {
	for range 20 {
		cmd := startSleep(t)
		cmd.Process.Kill()
		stat := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat"
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, err := os.ReadFile(stat)
			if err != nil {
				t.Fatal(err)
			}
			// The state is the field after the command name's ")".
			if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the killed process is not a zombie 5 s later")
			}
			time.Sleep(time.Millisecond)
		}
		w, err := watchProc(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.Gone():
		case <-time.After(5 * time.Second):
			t.Fatal("an exited process not reported gone 5 s after the watch began")
		}
		w.Close()
		cmd.Wait()
	}
}
