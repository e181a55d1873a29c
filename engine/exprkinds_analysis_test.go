package engine_test

import (
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// The source analysis behind TestEveryExpressionKind: which kinds of
// expression node the schema and syntax packages declare (exprKinds), and
// which kinds a given expression tree contains (walkKinds).

// enumTable maps a node type's name and one of its enum fields to the names
// of that field's constants by value: enums["Arrow"]["Mode"][1] = "ArrowAll".
type enumTable map[string]map[string]map[int64]string

// exprKinds type-checks the non-test Go files in dir and returns the kinds of
// expression node its Expr interface admits: the name of each type
// implementing Expr, or for a struct with a field of an enumerated type
// (Arrow.Mode, Binary.Op) one kind per constant of that type,
// "Arrow.ArrowAll".
func exprKinds(t *testing.T, dir string) ([]string, enumTable) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	// Imports outside the standard library do not resolve; the expression
	// types do not depend on them, so type errors are ignored.
	conf := types.Config{Importer: importer.Default(), Error: func(error) {}}
	pkg, _ := conf.Check(files[0].Name.Name, fset, files, nil)
	obj := pkg.Scope().Lookup("Expr")
	if obj == nil {
		t.Fatalf("%s declares no Expr", dir)
	}
	iface, ok := obj.Type().Underlying().(*types.Interface)
	if !ok || iface.NumMethods() == 0 {
		t.Fatalf("%s: Expr is %v, not an interface with methods", dir, obj.Type())
	}
	// Constants by type.
	consts := map[*types.TypeName]map[int64]string{}
	for _, name := range pkg.Scope().Names() {
		c, ok := pkg.Scope().Lookup(name).(*types.Const)
		if !ok {
			continue
		}
		named, ok := c.Type().(*types.Named)
		if !ok {
			continue
		}
		v, exact := constant.Int64Val(constant.ToInt(c.Val()))
		if !exact {
			continue
		}
		if consts[named.Obj()] == nil {
			consts[named.Obj()] = map[int64]string{}
		}
		if _, dup := consts[named.Obj()][v]; !dup { // an alias keeps the first name
			consts[named.Obj()][v] = name
		}
	}
	var kinds []string
	enums := enumTable{}
	for _, name := range pkg.Scope().Names() {
		tn, ok := pkg.Scope().Lookup(name).(*types.TypeName)
		if !ok || types.IsInterface(tn.Type()) {
			continue
		}
		if !types.Implements(tn.Type(), iface) && !types.Implements(types.NewPointer(tn.Type()), iface) {
			continue
		}
		enumerated := false
		if st, ok := tn.Type().Underlying().(*types.Struct); ok {
			for i := range st.NumFields() {
				fld := st.Field(i)
				named, ok := fld.Type().(*types.Named)
				if !ok || len(consts[named.Obj()]) == 0 {
					continue
				}
				enumerated = true
				if enums[name] == nil {
					enums[name] = map[string]map[int64]string{}
				}
				enums[name][fld.Name()] = consts[named.Obj()]
				for _, cn := range consts[named.Obj()] {
					kinds = append(kinds, name+"."+cn)
				}
			}
		}
		if !enumerated {
			kinds = append(kinds, name)
		}
	}
	sort.Strings(kinds)
	if len(kinds) < 4 {
		t.Fatalf("%s: found only expression kinds %v; is the source analysis broken?", dir, kinds)
	}
	return kinds, enums
}

// walkKinds returns the kinds of every node of the expression tree e (a
// schema.Expr or a syntax.Expr), found by reflection so that it needs no
// list of node types.
func walkKinds(e any, enums enumTable) map[string]bool {
	out := map[string]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return
		}
		name := v.Type().Name()
		enumerated := false
		for i := range v.NumField() {
			fld := v.Type().Field(i)
			fv := v.Field(i)
			if tbl, ok := enums[name][fld.Name]; ok {
				enumerated = true
				var n int64
				if fv.CanInt() {
					n = fv.Int()
				} else {
					n = int64(fv.Uint())
				}
				cn, ok := tbl[n]
				if !ok {
					cn = "unknown" + fld.Name
				}
				out[name+"."+cn] = true
				continue
			}
			switch fv.Kind() {
			case reflect.Interface:
				walk(fv)
			case reflect.Slice:
				if fv.Type().Elem().Kind() == reflect.Interface {
					for j := range fv.Len() {
						walk(fv.Index(j))
					}
				}
			}
		}
		if !enumerated {
			out[name] = true
		}
	}
	walk(reflect.ValueOf(e))
	return out
}
