package faultfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is a mounted fault-injecting loopback filesystem.
type FS struct {
	mountpoint string
	backing    string
	server     *fuse.Server

	syncErr  atomic.Int64 // a syscall.Errno, 0 for none
	writeErr atomic.Int64 // a syscall.Errno, 0 for none
	only     atomic.Pointer[func(string) bool]

	failedSyncs  atomic.Int64
	failedWrites atomic.Int64
	syncs        atomic.Int64
}

// Mount mounts a loopback of backing (a directory) on mountpoint (an empty
// directory). Call Unmount when done.
func Mount(mountpoint, backing string) (*FS, error) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return nil, fmt.Errorf("faultfs: no FUSE device (/dev/fuse): %w", err)
	}
	backing, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	root, err := fs.NewLoopbackRoot(backing)
	if err != nil {
		return nil, fmt.Errorf("faultfs: backing directory %s: %w", backing, err)
	}
	f := &FS{mountpoint: mountpoint, backing: backing}
	wrapped := &node{LoopbackNode: root.(*fs.LoopbackNode), fs: f}
	// Zero timeouts: the kernel asks us for every lookup and attribute, so
	// files the child process creates and removes are never seen stale.
	zero := time.Duration(0)
	server, err := fs.Mount(mountpoint, wrapped, &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName:      "faultfs",
			Name:        "faultfs",
			DirectMount: true, // mount(2) as root, else fall back to fusermount
			AllowOther:  os.Geteuid() == 0,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("faultfs: mounting %s on %s (needs root or fusermount): %w", backing, mountpoint, err)
	}
	f.server = server
	return f, nil
}

// MountForTest mounts a loopback of a new temporary directory on another and
// unmounts it when the test ends (failed or not). It skips the test, saying
// why, when FUSE cannot be mounted here.
func MountForTest(t testing.TB) *FS {
	t.Helper()
	backing, mountpoint := t.TempDir(), t.TempDir()
	f, err := Mount(mountpoint, backing)
	if err != nil {
		t.Skipf("cannot mount a FUSE filesystem (needs /dev/fuse and root or fusermount): %v", err)
	}
	// Registered after TempDir's cleanups, so it runs before they remove
	// the mountpoint.
	t.Cleanup(func() {
		f.SetSyncError(0)
		f.SetWriteError(0)
		if err := f.Unmount(); err != nil {
			t.Errorf("unmounting %s: %v", mountpoint, err)
		}
	})
	return f
}

// Dir is the mountpoint: files under it are the backing directory's.
func (f *FS) Dir() string { return f.mountpoint }

// Backing is the backing directory.
func (f *FS) Backing() string { return f.backing }

// SetSyncError makes every fsync, fdatasync and directory fsync fail with
// errno (syscall.EIO, typically) from now on; 0 makes them succeed again.
func (f *FS) SetSyncError(errno syscall.Errno) { f.syncErr.Store(int64(errno)) }

// SetWriteError makes every write and fallocate fail with errno
// (syscall.EIO or syscall.ENOSPC) from now on; 0 makes them succeed again.
func (f *FS) SetWriteError(errno syscall.Errno) { f.writeErr.Store(int64(errno)) }

// SetFilter limits the faults to the files and directories for which match
// returns true; it is given the path relative to the mountpoint, with
// slashes ("" for the root directory). nil removes the limit.
func (f *FS) SetFilter(match func(rel string) bool) {
	if match == nil {
		f.only.Store(nil)
		return
	}
	f.only.Store(&match)
}

// FailedSyncs counts the fsync calls failed so far.
func (f *FS) FailedSyncs() int64 { return f.failedSyncs.Load() }

// FailedWrites counts the write and fallocate calls failed so far.
func (f *FS) FailedWrites() int64 { return f.failedWrites.Load() }

// Syncs counts every fsync call that reached the filesystem, failed or not.
func (f *FS) Syncs() int64 { return f.syncs.Load() }

// Unmount unmounts the filesystem, lazily if a process still holds files
// open on it (a killed child's are closed by then, a live one's are not).
func (f *FS) Unmount() error {
	err := f.server.Unmount()
	if err == nil {
		return nil
	}
	if lerr := syscall.Unmount(f.mountpoint, syscall.MNT_DETACH); lerr != nil {
		return errors.Join(err, lerr)
	}
	return nil
}

func (f *FS) matches(rel string) bool {
	m := f.only.Load()
	return m == nil || (*m)(rel)
}

func (f *FS) syncFault(rel string) syscall.Errno {
	f.syncs.Add(1)
	errno := syscall.Errno(f.syncErr.Load())
	if errno == 0 || !f.matches(rel) {
		return 0
	}
	f.failedSyncs.Add(1)
	return errno
}

func (f *FS) writeFault(rel string) syscall.Errno {
	errno := syscall.Errno(f.writeErr.Load())
	if errno == 0 || !f.matches(rel) {
		return 0
	}
	f.failedWrites.Add(1)
	return errno
}

// node is a loopback node whose files and directory handles carry the
// faults.
type node struct {
	*fs.LoopbackNode
	fs *FS
}

var (
	_ fs.NodeWrapChilder     = (*node)(nil)
	_ fs.NodeOpener          = (*node)(nil)
	_ fs.NodeCreater         = (*node)(nil)
	_ fs.NodeTmpfiler        = (*node)(nil)
	_ fs.NodeOpendirHandler  = (*node)(nil)
	_ fs.NodeCopyFileRanger  = (*node)(nil)
	_ fs.FileFsyncer         = (*file)(nil)
	_ fs.FileWriter          = (*file)(nil)
	_ fs.FileAllocater       = (*file)(nil)
	_ fs.FilePassthroughFder = (*file)(nil)
	_ fs.FileFsyncdirer      = (*dir)(nil)
)

// WrapChild makes every node below the root a faulty one too.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	if l, ok := ops.(*fs.LoopbackNode); ok {
		return &node{LoopbackNode: l, fs: n.fs}
	}
	return ops
}

// rel is the node's path relative to the mountpoint.
func (n *node) rel() string { return n.Path(nil) }

func (n *node) wrap(fh fs.FileHandle, rel string) fs.FileHandle {
	if l, ok := fh.(*fs.LoopbackFile); ok {
		return &file{LoopbackFile: l, fs: n.fs, rel: rel}
	}
	return fh
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	return n.wrap(fh, n.rel()), fl, errno
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return ch, n.wrap(fh, path.Join(n.rel(), name)), fl, errno
}

func (n *node) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ch, fh, fl, errno := n.LoopbackNode.Tmpfile(ctx, flags, mode, out)
	return ch, n.wrap(fh, n.rel()), fl, errno
}

// dirHandle is what a loopback directory handle does besides Fsyncdir.
type dirHandle interface {
	fs.FileReaddirenter
	fs.FileSeekdirer
	fs.FileReleasedirer
	fs.FileFsyncdirer
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if d, ok := fh.(dirHandle); ok {
		return &dir{dirHandle: d, fs: n.fs, rel: n.rel()}, fl, errno
	}
	return fh, fl, errno
}

func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	if errno := n.fs.writeFault(out.Path(nil)); errno != 0 {
		return 0, errno
	}
	if f, ok := fhIn.(*file); ok {
		fhIn = f.LoopbackFile
	}
	if f, ok := fhOut.(*file); ok {
		fhOut = f.LoopbackFile
	}
	return n.LoopbackNode.CopyFileRange(ctx, fhIn, offIn, out, fhOut, offOut, length, flags)
}

// file is a loopback file whose fsync and writes may fail.
type file struct {
	*fs.LoopbackFile
	fs  *FS
	rel string // at open; a later rename is not followed
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if errno := f.fs.syncFault(f.rel); errno != 0 {
		return errno
	}
	return f.LoopbackFile.Fsync(ctx, flags)
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if errno := f.fs.writeFault(f.rel); errno != 0 {
		return 0, errno
	}
	return f.LoopbackFile.Write(ctx, data, off)
}

func (f *file) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if errno := f.fs.writeFault(f.rel); errno != 0 {
		return errno
	}
	return f.LoopbackFile.Allocate(ctx, off, size, mode)
}

// PassthroughFd refuses FUSE passthrough, under which the kernel would
// write to the backing file without asking this process.
func (f *file) PassthroughFd() (int, bool) { return 0, false }

// dir is a loopback directory handle whose fsync may fail.
type dir struct {
	dirHandle
	fs  *FS
	rel string
}

func (d *dir) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	if errno := d.fs.syncFault(d.rel); errno != 0 {
		return errno
	}
	return d.dirHandle.Fsyncdir(ctx, flags)
}
