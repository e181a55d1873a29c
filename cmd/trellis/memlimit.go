package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of a cgroup's memory limit given to the Go
// runtime as its soft limit under --memory-limit auto. The rest is for what
// the runtime does not manage: the store's and the raft log's memory-mapped
// files (page cache the kernel reclaims under the limit) and the stacks of
// threads in system calls.
const memoryLimitShare = 0.75

// applyMemoryLimit sets the Go runtime's soft memory limit from
// --memory-limit: "auto" (the default: 75% of the cgroup's memory limit when
// the process runs under one, e.g. docker --memory or a Kubernetes limit, and
// GOMEMLIMIT is not set), "off", or a size such as 1536MiB, 2GiB or bytes.
// Near the limit the garbage collector runs more often instead of letting the
// heap grow to twice what is live, which is what keeps a big import inside a
// container's limit. It returns the limit set, 0 for none.
func applyMemoryLimit(flag string, log *slog.Logger) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(flag)) {
	case "off", "":
		return 0, nil
	case "auto":
		if os.Getenv("GOMEMLIMIT") != "" {
			return 0, nil // the operator set it for the runtime already
		}
		cg := cgroupMemoryLimit("/", readFile)
		if cg <= 0 {
			return 0, nil
		}
		limit := int64(float64(cg) * memoryLimitShare)
		debug.SetMemoryLimit(limit)
		log.Info("memory limit from the cgroup", "cgroup_bytes", cg, "go_soft_limit_bytes", limit)
		return limit, nil
	}
	n, err := parseSize(flag)
	if err != nil {
		return 0, usageError{fmt.Errorf("--memory-limit %q: %w; use auto, off, or a size such as 1536MiB or 2GiB", flag, err)}
	}
	debug.SetMemoryLimit(n)
	return n, nil
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// cgroupMemoryLimit returns the memory limit of this process's cgroup in
// bytes, 0 when there is none or it cannot be read. It looks at cgroup v2
// (memory.max) and then v1 (memory.limit_in_bytes), under root (/ outside
// tests).
func cgroupMemoryLimit(root string, read func(string) ([]byte, error)) int64 {
	self, err := read(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			file = filepath.Join(root, "sys/fs/cgroup", parts[2], "memory.max")
		case containsWord(parts[1], "memory"):
			file = filepath.Join(root, "sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		default:
			continue
		}
		b, err := read(file)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(s, 10, 64)
		// "max" (v2) or a number near 2^63 (v1) means no limit.
		if err != nil || n <= 0 || n >= 1<<62 {
			continue
		}
		return n
	}
	return 0
}

func containsWord(list, w string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == w {
			return true
		}
	}
	return false
}

// parseSize reads a byte count with an optional binary (KiB, MiB, GiB) or
// decimal (KB, MB, GB) unit.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a positive size")
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("too large")
	}
	return n * mult, nil
}
