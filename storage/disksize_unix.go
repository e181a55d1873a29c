//go:build unix

package storage

import (
	"io/fs"
	"syscall"
)

// allocatedSize is the bytes the file occupies on disk, like du: Badger
// preallocates memtable logs and value-log files sparsely, so their apparent
// size overstates the store.
func allocatedSize(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return info.Size()
}
