//go:build !unix

package storage

import "io/fs"

func allocatedSize(info fs.FileInfo) int64 { return info.Size() }
