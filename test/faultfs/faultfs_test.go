package faultfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFaultFS passes files through to the backing directory and fails
// fsync, directory fsync and writes only while told to, counting each.
func TestFaultFS(t *testing.T) {
	f := MountForTest(t)
	path := filepath.Join(f.Dir(), "a")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatalf("fsync with no fault: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(f.Backing(), "a")); err != nil || string(got) != "hello" {
		t.Fatalf("backing file holds %q (%v), want hello", got, err)
	}

	f.SetSyncError(syscall.EIO)
	if err := fh.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fsync with the fault on: %v, want EIO", err)
	}
	if err := unix.Fdatasync(int(fh.Fd())); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fdatasync with the fault on: %v, want EIO", err)
	}
	d, err := os.Open(f.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("directory fsync with the fault on: %v, want EIO", err)
	}
	if n := f.FailedSyncs(); n != 3 {
		t.Errorf("FailedSyncs = %d, want 3", n)
	}
	// Writes are not affected by the sync fault.
	if _, err := fh.Write([]byte(" world")); err != nil {
		t.Fatalf("write with only the sync fault on: %v", err)
	}
	f.SetSyncError(0)
	if err := fh.Sync(); err != nil {
		t.Fatalf("fsync once the fault is off: %v", err)
	}

	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		f.SetWriteError(errno)
		if _, err := fh.Write([]byte("!")); !errors.Is(err, errno) {
			t.Fatalf("write with the %v fault on: %v", errno, err)
		}
	}
	if n := f.FailedWrites(); n != 2 {
		t.Errorf("FailedWrites = %d, want 2", n)
	}
	f.SetWriteError(0)
	if _, err := fh.Write([]byte("!")); err != nil {
		t.Fatalf("write once the fault is off: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "hello world!" {
		t.Fatalf("file holds %q, want %q", got, "hello world!")
	}
}

// TestFaultFSMmap: msync of a shared writable mapping reaches the
// filesystem's fsync, so it fails while the fault is on (Badger writes its
// memtable log through such a mapping).
func TestFaultFSMmap(t *testing.T) {
	f := MountForTest(t)
	fh, err := os.Create(filepath.Join(f.Dir(), "m"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := fh.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(fh.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("shared writable mmap on the mount: %v", err)
	}
	defer unix.Munmap(m)
	copy(m, "mapped")
	f.SetSyncError(syscall.EIO)
	if err := unix.Msync(m, unix.MS_SYNC); !errors.Is(err, syscall.EIO) {
		t.Fatalf("msync with the fault on: %v, want EIO", err)
	}
	f.SetSyncError(0)
	copy(m[6:], "!")
	if err := unix.Msync(m, unix.MS_SYNC); err != nil {
		t.Fatalf("msync once the fault is off: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(f.Backing(), "m"))
	if err != nil || !bytes.HasPrefix(got, []byte("mapped!")) {
		t.Fatalf("backing file starts %q (%v), want mapped!", got[:8], err)
	}
}

// TestFaultFSFilter limits the faults to the paths the filter matches.
func TestFaultFSFilter(t *testing.T) {
	f := MountForTest(t)
	if err := os.Mkdir(filepath.Join(f.Dir(), "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Create(filepath.Join(f.Dir(), "sub", "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(f.Dir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	f.SetFilter(func(rel string) bool { return strings.HasPrefix(rel, "sub/") })
	f.SetSyncError(syscall.EIO)
	f.SetWriteError(syscall.ENOSPC)
	if err := in.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("fsync of sub/in: %v, want EIO", err)
	}
	if _, err := in.Write([]byte("x")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write to sub/in: %v, want ENOSPC", err)
	}
	if _, err := out.Write([]byte("x")); err != nil {
		t.Errorf("write to out, which the filter leaves alone: %v", err)
	}
	if err := out.Sync(); err != nil {
		t.Errorf("fsync of out, which the filter leaves alone: %v", err)
	}
	f.SetFilter(nil)
	if err := out.Sync(); !errors.Is(err, syscall.EIO) {
		t.Errorf("fsync of out with no filter: %v, want EIO", err)
	}
}
