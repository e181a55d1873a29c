package main

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"1536MiB", 1536 << 20}, {"2GiB", 2 << 30}, {"512KiB", 512 << 10}, {"2GB", 2e9}, {"1000", 1000}, {" 3 MiB ", 3 << 20}, {"10B", 10},
	} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1GiB", "0", "1.5GiB", "2TB", "99999999999GiB"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestCgroupMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if s, ok := m[filepath.ToSlash(p)]; ok {
				return []byte(s), nil
			}
			return nil, errors.New("no such file")
		}
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"v2 with a limit", map[string]string{
			"/r/proc/self/cgroup":                       "0::/kubepods/pod1\n",
			"/r/sys/fs/cgroup/kubepods/pod1/memory.max": "2147483648\n",
		}, 2 << 30},
		{"v2 without a limit", map[string]string{
			"/r/proc/self/cgroup":         "0::/\n",
			"/r/sys/fs/cgroup/memory.max": "max\n",
		}, 0},
		{"v1 with a limit", map[string]string{
			"/r/proc/self/cgroup": "12:cpu,cpuacct:/x\n9:memory:/docker/abc\n0::/\n",
			"/r/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1073741824",
		}, 1 << 30},
		{"v1 unlimited", map[string]string{
			"/r/proc/self/cgroup":                           "9:memory:/\n",
			"/r/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712",
		}, 0},
		{"no cgroup file", map[string]string{}, 0},
	} {
		if got := cgroupMemoryLimit("/r", files(tc.files)); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	got, err := applyMemoryLimit("1536MiB", log)
	if err != nil || got != 1536<<20 {
		t.Fatalf("applyMemoryLimit(1536MiB) = %d, %v", got, err)
	}
	if now := debug.SetMemoryLimit(-1); now != 1536<<20 {
		t.Errorf("runtime soft limit is %d, want %d", now, 1536<<20)
	}
	if got, err := applyMemoryLimit("off", log); err != nil || got != 0 {
		t.Errorf("off: got %d, %v", got, err)
	}
	if _, err := applyMemoryLimit("lots", log); err == nil {
		t.Error("applyMemoryLimit(lots): no error")
	}
}
