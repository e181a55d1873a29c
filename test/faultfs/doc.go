// Package faultfs mounts a FUSE passthrough ("loopback") filesystem over a
// backing directory and injects disk faults into it on demand: fsync,
// fdatasync and directory fsync can be made to fail with EIO, and writes
// (write, fallocate) with EIO or ENOSPC. Each failed call is counted.
//
// It exists for the slow fault tests of cmd/trellis (TestFsyncFault), which
// put a server's data directory on the mount, served from the test process,
// while the server runs in a child process.
//
// The mount is a plain page-cache mount (not direct_io: Badger memory-maps
// its files), with FUSE passthrough turned off so that every write and fsync
// reaches this process and can be failed. Data a failed call wrote still
// reaches the backing directory: the fault is the error the caller sees, not
// the loss of the data (a kernel that drops the dirty pages after a failed
// fsync is harsher than this).
//
// Mounting needs /dev/fuse and the right to mount (root, or fusermount on
// PATH); [MountForTest] skips the test with the reason when it cannot mount.
package faultfs
