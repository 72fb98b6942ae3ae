package driver

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestFileOffset: the offset another process has a file open at, found
// by the file's identity, through a child of that process too.
func TestFileOffset(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(4321, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	// A shell holding it (the descriptor shares the offset), run by a
	// shell that closes its own: only the outer one's child has it.
	inner := exec.Command("sh", "-c", "sh -c 'sleep 30' <&3 3<&- & exec 3<&-; wait")
	inner.ExtraFiles = []*os.File{f}
	if err := inner.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { inner.Process.Kill(); inner.Wait() }()
	var off int64
	var ok bool
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if off, ok = fileOffset(inner.Process.Pid, fi); ok {
			break
		}
	}
	if !ok || off != 4321 {
		t.Fatalf("fileOffset = %d, %v; want 4321, true", off, ok)
	}
	if _, err := f.Seek(9999, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if off, ok := fileOffset(inner.Process.Pid, fi); !ok || off != 9999 {
		t.Errorf("after a seek: fileOffset = %d, %v; want 9999, true", off, ok)
	}
	other, _ := os.Stat(filepath.Dir(p))
	if _, ok := fileOffset(inner.Process.Pid, other); ok {
		t.Errorf("fileOffset found a file the process does not have open")
	}
	if _, ok := fileOffset(1<<30, fi); ok {
		t.Errorf("fileOffset found a file in no process")
	}
}
