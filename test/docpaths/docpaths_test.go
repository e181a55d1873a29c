package docpaths

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	tokenRE = regexp.MustCompile(`(^|[^A-Za-z0-9_./<>{}*:-])([a-z][a-z0-9_-]*/[A-Za-z0-9_./-]*[A-Za-z0-9_/])`)
	linkRE  = regexp.MustCompile(`\]\(([^)\s#]+)(#[^)]*)?\)`)
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", root, err)
	}
	return root
}

func TestDocPathsExist(t *testing.T) {
	root := repoRoot(t)
	top := map[string]bool{}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			top[e.Name()] = true
		}
	}
	exists := func(p string) bool {
		_, err := os.Stat(p)
		return err == nil
	}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		isMD, isGo := strings.HasSuffix(path, ".md"), strings.HasSuffix(path, ".go")
		if !isMD && !isGo {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if isGo {
				i := strings.Index(line, "//")
				if i < 0 || strings.Count(line[:i], `"`)%2 == 1 || strings.Count(line[:i], "`")%2 == 1 {
					continue
				}
				line = line[i:]
			}
			if isMD {
				for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
					l := m[1]
					if strings.Contains(l, "://") || strings.HasPrefix(l, "mailto:") {
						continue
					}
					if !exists(filepath.Join(filepath.Dir(path), l)) {
						t.Errorf("%s:%d: link target %s does not exist", rel, n, l)
					}
				}
			}
			for _, m := range tokenRE.FindAllStringSubmatchIndex(line, -1) {
				p := line[m[4]:m[5]]
				end := m[5]
				if end < len(line) && strings.ContainsRune("<{*", rune(line[end])) {
					continue // a placeholder follows
				}
				if !strings.HasSuffix(p, "/") && filepath.Ext(p) == "" {
					continue // not a file name nor a directory written as dir/
				}
				first := strings.SplitN(p, "/", 2)[0]
				if !top[first] {
					continue
				}
				if !exists(filepath.Join(root, p)) {
					t.Errorf("%s:%d: %s does not exist", rel, n, p)
				}
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
