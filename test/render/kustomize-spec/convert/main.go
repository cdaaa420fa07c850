// Command convert turns kustomize's own Go tests (api/krusty/*_test.go and
// plugin/builtin/*/*_test.go at one tag) into fixture folders for Flotilla's
// renderer: the files each case writes, the folder it builds, and where it came
// from. It does not run kustomize's code: it reads the test sources with go/ast
// and interprets the small part of Go the tests use (string literals and
// concatenation, table-driven cases, t.Run subtests, helper functions, the test
// harness's Write*/Run* calls). A case it cannot convert, or that needs something
// a kustomization file cannot express (a plugin binary, exec or container
// functions, helm, the network, a Go-only option), goes to skipped.json with the
// reason. Expected outputs are not taken from the Go tests: regenerate.mjs asks
// `kubectl kustomize` for each fixture.
//
// Usage (from the repository root; needs git and a Go toolchain, stdlib only):
//
//	go run ./test/render/kustomize-spec/convert -repo /path/to/kustomize/.git -tag kustomize/v5.5.0
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ---- values the interpreter knows -------------------------------------------------

type opaque struct{ why string }

type structVal struct {
	fields map[string]any
}

type mapVal struct {
	keys []any
	vals []any
}

type closure struct {
	params   []string
	variadic bool
	results  []string
	body     *ast.BlockStmt
	env      *env
}

type tuple []any

// fsys is an in-memory file system as kustomize's tests build it.
type fsys struct {
	files map[string]string
}

func newFS() *fsys { return &fsys{files: map[string]string{}} }

func (f *fsys) write(p, content string) { f.files[clean(p)] = content }

func (f *fsys) snapshot() map[string]string {
	out := map[string]string{}
	for k, v := range f.files {
		out[k] = v
	}
	return out
}

func clean(p string) string {
	p = path.Clean("/" + p)
	return strings.TrimPrefix(p, "/")
}

// harness models kusttest_test.Harness / HarnessEnhanced.
type harness struct {
	fs       *fsys
	root     string // the loader root (ResetLoaderRoot), where plugin configs are read
	enhanced bool
	plugins  []string // non-builtin plugin preparations, for the skip reason
}

// options models krusty.Options: which fields a test changed from the defaults.
type options struct {
	changed []string
	plugins bool
	// kubectl flags for options kubectl kustomize has a flag for (--load-restrictor).
	flags []string
}

type kustomizer struct{ opts *options }

// ---- the cases the converter produces ----------------------------------------------

type fixtureCase struct {
	Name          string            `json:"-"`
	Source        string            `json:"source"`
	Function      string            `json:"function"`
	Subcase       string            `json:"subcase,omitempty"`
	Build         string            `json:"build"`
	Via           string            `json:"via"`
	GoExpectsFail bool              `json:"goTestExpectsError"`
	KubectlFlags  []string          `json:"kubectlFlags,omitempty"`
	Files         map[string]string `json:"-"`
}

type skip struct {
	Source   string `json:"source"`
	Function string `json:"function"`
	Subcase  string `json:"subcase,omitempty"`
	Reason   string `json:"reason"`
	Category string `json:"category"`
}

// ---- interpreter --------------------------------------------------------------------

type env struct {
	vars   map[string]any
	parent *env
}

func (e *env) lookup(name string) (any, bool) {
	for s := e; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

func (e *env) set(name string, v any) {
	for s := e; s != nil; s = s.parent {
		if _, ok := s.vars[name]; ok {
			s.vars[name] = v
			return
		}
	}
	e.vars[name] = v
}

func child(e *env) *env { return &env{vars: map[string]any{}, parent: e} }

type pkg struct {
	dir   string
	fset  *token.FileSet
	funcs map[string]*ast.FuncDecl
	decls map[string]ast.Expr // package-level const/var initializers
	types map[string]ast.Expr // package-level type declarations
	cache map[string]any
}

type unsupported struct{ why string }

type skipNow struct{ why string }

type returned struct{ vals []any }

// categorized stops a test for a reason that is not the converter's limit.
type categorized struct{ category, why string }

// byFile: where the converter cannot model a test file's set-up, the reason the
// file's tests exist (a remote repository, a function runtime) is the honest category.
var byFile = map[string][2]string{
	"api/krusty/remoteloader_test.go": {"network", "network: remote loader (git repositories over the network or on disk outside the tree)"},
	"api/krusty/fnplugin_test.go":     {"function", "KRM function (container or exec)"},
}

var byFunction = map[string][2]string{
	"TestAnnoOriginRemoteBuiltinGenerator":   {"network", "network: a remote generator config"},
	"TestAnnoOriginRemoteBuiltinTransformer": {"network", "network: a remote transformer config"},
	"TestPluginEnvironment":                  {"plugin", "needs a plugin binary (exec plugin environment)"},
	"TestMatchesCurrentID":                   {"go-api", "Go-only API: a ResMap built in Go with a changed resource id"},
}

// legacyConfigs is what th.WriteLegacyConfigs writes: kustomize's default field
// specs, read from the tag's builtinpluginconsts package by main.
var legacyConfigs string

type run struct {
	p       *pkg
	source  string
	fn      string
	sub     []string
	cases   []*fixtureCase
	skips   []skip
	counter map[string]int
	helm    bool
}

func (r *run) fail(n ast.Node, format string, args ...any) {
	pos := r.p.fset.Position(n.Pos())
	panic(unsupported{fmt.Sprintf("%s (%s:%d)", fmt.Sprintf(format, args...), filepath.Base(pos.Filename), pos.Line)})
}

func (r *run) str(n ast.Node, v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []any:
		b := []byte{}
		for _, c := range s {
			code, ok := c.(int64)
			if !ok {
				r.fail(n, "expected bytes")
			}
			b = append(b, byte(code))
		}
		return string(b)
	case opaque:
		r.fail(n, "cannot evaluate: %s", s.why)
	}
	r.fail(n, "expected a string, got %T", v)
	return ""
}

func exprText(p *pkg, e ast.Node) string {
	pos, end := p.fset.Position(e.Pos()), p.fset.Position(e.End())
	data, err := os.ReadFile(pos.Filename)
	if err != nil || end.Offset > len(data) {
		return "?"
	}
	t := string(data[pos.Offset:end.Offset])
	if len(t) > 60 {
		t = t[:60] + "…"
	}
	return t
}

func (r *run) eval(e ast.Expr, en *env) any {
	switch x := e.(type) {
	case *ast.BasicLit:
		switch x.Kind {
		case token.STRING, token.CHAR:
			s, err := strconv.Unquote(x.Value)
			if err != nil {
				r.fail(x, "bad literal")
			}
			return s
		case token.INT:
			n, _ := strconv.ParseInt(x.Value, 0, 64)
			return n
		}
		return opaque{x.Value}
	case *ast.Ident:
		switch x.Name {
		case "nil":
			return nil
		case "true":
			return true
		case "false":
			return false
		}
		if v, ok := en.lookup(x.Name); ok {
			return v
		}
		return r.global(x.Name)
	case *ast.ParenExpr:
		return r.eval(x.X, en)
	case *ast.BinaryExpr:
		return r.binary(x, en)
	case *ast.UnaryExpr:
		v := r.eval(x.X, en)
		switch x.Op {
		case token.AND:
			return v
		case token.NOT:
			if b, ok := v.(bool); ok {
				return !b
			}
			return opaque{"!" + exprText(r.p, x.X)}
		}
		return opaque{exprText(r.p, x)}
	case *ast.StarExpr:
		return r.eval(x.X, en)
	case *ast.CompositeLit:
		return r.composite(x, x.Type, en)
	case *ast.FuncLit:
		return r.closureOf(x.Type, x.Body, en)
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok {
			if _, isVar := en.lookup(id.Name); !isVar {
				if _, isGlobal := r.p.decls[id.Name]; !isGlobal {
					switch id.Name + "." + x.Sel.Name {
					case "filesys.Separator":
						return "/"
					case "filesys.SelfDir":
						return "."
					}
				}
			}
		}
		v := r.eval(x.X, en)
		switch o := v.(type) {
		case *structVal:
			if f, ok := o.fields[x.Sel.Name]; ok {
				return f
			}
			return zeroish(x.Sel.Name)
		case *options:
			return opaque{"options." + x.Sel.Name}
		case *harness:
			if x.Sel.Name == "Harness" {
				return o
			}
		}
		return opaque{exprText(r.p, x)}
	case *ast.IndexExpr:
		c, k := r.eval(x.X, en), r.eval(x.Index, en)
		switch o := c.(type) {
		case []any:
			if i, ok := k.(int64); ok && int(i) < len(o) {
				return o[i]
			}
		case *mapVal:
			for i, key := range o.keys {
				if key == k {
					return o.vals[i]
				}
			}
			return nil
		}
		return opaque{exprText(r.p, x)}
	case *ast.CallExpr:
		return r.call(x, en)
	case *ast.KeyValueExpr:
		r.fail(x, "key-value outside a composite literal")
	}
	return opaque{exprText(r.p, e)}
}

// zeroish is a struct field a table entry left out: Go's zero value. Strings and
// bools are what the tables use; "" and false behave the same in the conditions
// the tests write (x != "" / x).
func zeroish(string) any { return "" }

func (r *run) binary(x *ast.BinaryExpr, en *env) any {
	a, b := r.eval(x.X, en), r.eval(x.Y, en)
	if _, ok := a.(opaque); ok {
		return a
	}
	if _, ok := b.(opaque); ok {
		return b
	}
	switch x.Op {
	case token.ADD:
		if sa, ok := a.(string); ok {
			if sb, ok := b.(string); ok {
				return sa + sb
			}
		}
		if ia, ok := a.(int64); ok {
			if ib, ok := b.(int64); ok {
				return ia + ib
			}
		}
	case token.LSS, token.GTR, token.LEQ, token.GEQ:
		ia, ok1 := a.(int64)
		ib, ok2 := b.(int64)
		if ok1 && ok2 {
			switch x.Op {
			case token.LSS:
				return ia < ib
			case token.GTR:
				return ia > ib
			case token.LEQ:
				return ia <= ib
			}
			return ia >= ib
		}
	case token.EQL:
		return equalish(a, b)
	case token.NEQ:
		return !equalish(a, b)
	case token.LAND, token.LOR:
		ba, ok1 := a.(bool)
		bb, ok2 := b.(bool)
		if ok1 && ok2 {
			if x.Op == token.LAND {
				return ba && bb
			}
			return ba || bb
		}
	}
	return opaque{exprText(r.p, x)}
}

func equalish(a, b any) bool {
	if a == nil {
		a = ""
	}
	if b == nil {
		b = ""
	}
	switch a.(type) {
	case string, int64, bool:
		return a == b
	}
	return false
}

func (r *run) closureOf(t *ast.FuncType, body *ast.BlockStmt, en *env) *closure {
	c := &closure{body: body, env: en}
	if t.Results != nil {
		for _, f := range t.Results.List {
			for _, n := range f.Names {
				c.results = append(c.results, n.Name)
			}
		}
	}
	for _, f := range t.Params.List {
		if _, ok := f.Type.(*ast.Ellipsis); ok {
			c.variadic = true
		}
		if len(f.Names) == 0 {
			c.params = append(c.params, "_")
		}
		for _, n := range f.Names {
			c.params = append(c.params, n.Name)
		}
	}
	return c
}

func (r *run) global(name string) any {
	if v, ok := r.p.cache[name]; ok {
		return v
	}
	if d, ok := r.p.decls[name]; ok {
		v := r.eval(d, &env{vars: map[string]any{}})
		r.p.cache[name] = v
		return v
	}
	if f, ok := r.p.funcs[name]; ok {
		return r.closureOf(f.Type, f.Body, &env{vars: map[string]any{}})
	}
	return opaque{name}
}

// composite evaluates a composite literal; typ is its type (or the element type of
// an enclosing literal when elided).
func (r *run) composite(x *ast.CompositeLit, typ ast.Expr, en *env) any {
	typ = r.resolveType(typ)
	switch t := typ.(type) {
	case *ast.ArrayType:
		out := []any{}
		for _, el := range x.Elts {
			out = append(out, r.element(el, t.Elt, en))
		}
		return out
	case *ast.MapType:
		m := &mapVal{}
		for _, el := range x.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				r.fail(el, "map literal element without key")
			}
			m.keys = append(m.keys, r.element(kv.Key, t.Key, en))
			m.vals = append(m.vals, r.element(kv.Value, t.Value, en))
		}
		return m
	case *ast.StructType:
		s := &structVal{fields: map[string]any{}}
		var names []string
		for _, f := range t.Fields.List {
			for _, n := range f.Names {
				names = append(names, n.Name)
			}
		}
		for i, el := range x.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				key := kv.Key.(*ast.Ident).Name
				s.fields[key] = r.element(kv.Value, fieldType(t, key), en)
			} else if i < len(names) {
				s.fields[names[i]] = r.element(el, fieldType(t, names[i]), en)
			}
		}
		return s
	}
	// A struct of another package (types.X{...}): keep the fields we can read.
	s := &structVal{fields: map[string]any{}}
	for _, el := range x.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				s.fields[id.Name] = r.eval(kv.Value, en)
			}
		}
	}
	return s
}

func (r *run) element(e ast.Expr, typ ast.Expr, en *env) any {
	if cl, ok := e.(*ast.CompositeLit); ok && cl.Type == nil {
		return r.composite(cl, typ, en)
	}
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
		if cl, ok := u.X.(*ast.CompositeLit); ok && cl.Type == nil {
			if st, ok := typ.(*ast.StarExpr); ok {
				return r.composite(cl, st.X, en)
			}
		}
	}
	return r.eval(e, en)
}

func fieldType(t *ast.StructType, name string) ast.Expr {
	for _, f := range t.Fields.List {
		for _, n := range f.Names {
			if n.Name == name {
				return f.Type
			}
		}
	}
	return nil
}

func (r *run) resolveType(t ast.Expr) ast.Expr {
	for i := 0; i < 5; i++ {
		id, ok := t.(*ast.Ident)
		if !ok {
			return t
		}
		d, ok := r.p.types[id.Name]
		if !ok {
			return t
		}
		t = d
	}
	return t
}

func (r *run) call(x *ast.CallExpr, en *env) any {
	args := func() []any {
		out := []any{}
		for _, a := range x.Args {
			out = append(out, r.eval(a, en))
		}
		return out
	}
	switch f := x.Fun.(type) {
	case *ast.ArrayType: // []byte(s)
		return r.eval(x.Args[0], en)
	case *ast.Ident:
		switch f.Name {
		case "string", "len", "append", "make", "panic":
			if f.Name == "string" {
				return r.eval(x.Args[0], en)
			}
			if f.Name == "append" {
				a := args()
				if s, ok := a[0].([]any); ok {
					if x.Ellipsis.IsValid() {
						if more, ok := a[len(a)-1].([]any); ok {
							return append(append(append([]any{}, s...), a[1:len(a)-1]...), more...)
						}
					}
					return append(append([]any{}, s...), a[1:]...)
				}
			}
			return opaque{f.Name}
		}
		v := r.eval(f, en)
		if c, ok := v.(*closure); ok {
			return r.invoke(c, args())
		}
		return opaque{exprText(r.p, x)}
	case *ast.FuncLit:
		return r.invoke(r.closureOf(f.Type, f.Body, en), args())
	case *ast.CallExpr, *ast.IndexExpr:
		if c, ok := r.eval(f, en).(*closure); ok {
			return r.invoke(c, args())
		}
	case *ast.SelectorExpr:
		if pkgID, ok := f.X.(*ast.Ident); ok {
			if _, isVar := en.lookup(pkgID.Name); !isVar {
				if _, isGlobal := r.p.decls[pkgID.Name]; !isGlobal {
					return r.pkgCall(x, pkgID.Name, f.Sel.Name, args())
				}
			}
		}
		recv := r.eval(f.X, en)
		return r.method(x, recv, f.Sel.Name, args(), en)
	}
	return opaque{exprText(r.p, x)}
}

func (r *run) pkgCall(x *ast.CallExpr, pkgName, name string, a []any) any {
	switch pkgName + "." + name {
	case "kusttest_test.MakeHarness":
		return &harness{fs: newFS()}
	case "kusttest_test.MakeHarnessWithFs":
		if fs, ok := a[1].(*fsys); ok {
			return &harness{fs: fs}
		}
		return &harness{fs: newFS()}
	case "kusttest_test.MakeEnhancedHarness", "kusttest_test.MakeEnhancedHarnessWithTmpRoot":
		return &harness{fs: newFS(), enhanced: true}
	case "filesys.MakeFsInMemory", "filesys.MakeEmptyDirInMemory":
		return newFS()
	case "filesys.MakeFsOnDisk":
		return newFS()
	case "krusty.MakeDefaultOptions":
		return &options{}
	case "krusty.MakeKustomizer":
		if o, ok := a[0].(*options); ok {
			return &kustomizer{opts: o}
		}
		return &kustomizer{opts: &options{}}
	case "filepath.Join", "path.Join":
		parts := []string{}
		for _, v := range a {
			parts = append(parts, r.str(x, v))
		}
		return path.Join(parts...)
	case "strings.Repeat":
		n, _ := a[1].(int64)
		return strings.Repeat(r.str(x, a[0]), int(n))
	case "strings.ReplaceAll":
		return strings.ReplaceAll(r.str(x, a[0]), r.str(x, a[1]), r.str(x, a[2]))
	case "strings.Replace":
		n, _ := a[3].(int64)
		return strings.Replace(r.str(x, a[0]), r.str(x, a[1]), r.str(x, a[2]), int(n))
	case "konfig.DefaultKustomizationFileName":
		return "kustomization.yaml"
	case "konfig.RecognizedKustomizationFileNames":
		return []any{"kustomization.yaml", "kustomization.yml", "Kustomization"}
	case "os.ReadFile":
		data, err := os.ReadFile(filepath.Join(r.p.dir, r.str(x, a[0])))
		if err != nil {
			r.fail(x, "cannot read %s", a[0])
		}
		return tuple{string(data), nil}
	case "strings.TrimSpace":
		return strings.TrimSpace(r.str(x, a[0]))
	case "strings.Join":
		list, _ := a[0].([]any)
		parts := []string{}
		for _, v := range list {
			parts = append(parts, r.str(x, v))
		}
		return strings.Join(parts, r.str(x, a[1]))
	case "fmt.Sprintf":
		format := r.str(x, a[0])
		rest := []any{}
		for _, v := range a[1:] {
			if o, ok := v.(opaque); ok {
				return o
			}
			rest = append(rest, v)
		}
		return fmt.Sprintf(format, rest...)
	case "types.EnabledPluginConfig", "types.DisabledPluginConfig", "types.MakePluginConfig":
		return opaque{"plugin config"}
	}
	return opaque{pkgName + "." + name}
}

func (r *run) invoke(c *closure, a []any) any {
	en := child(c.env)
	for i, p := range c.params {
		if c.variadic && i == len(c.params)-1 {
			rest := []any{}
			if i < len(a) {
				rest = append(rest, a[i:]...)
			}
			en.vars[p] = rest
		} else if i < len(a) {
			en.vars[p] = a[i]
		}
	}
	for _, n := range c.results {
		en.vars[n] = []any{}
	}
	res := r.block(c.body.List, en)
	if res != nil && len(res.vals) == 0 && len(c.results) > 0 {
		for _, n := range c.results {
			res.vals = append(res.vals, en.vars[n])
		}
	}
	if res != nil {
		if len(res.vals) == 1 {
			return res.vals[0]
		}
		return tuple(res.vals)
	}
	return nil
}

func (r *run) method(x *ast.CallExpr, recv any, name string, a []any, en *env) any {
	switch o := recv.(type) {
	case *harness:
		return r.harnessCall(x, o, name, a)
	case *fsys:
		switch name {
		case "WriteFile":
			o.write(r.str(x, a[0]), r.str(x, a[1]))
			return nil
		case "Mkdir", "MkdirAll", "RemoveAll":
			return nil
		}
		return opaque{"fsys." + name}
	case *kustomizer:
		if name == "Run" {
			fs, ok := a[0].(*fsys)
			if !ok {
				r.fail(x, "kustomizer.Run on an unknown file system")
			}
			r.capture(fs, r.str(x, a[1]), o.opts, "krusty.Kustomizer.Run", nil)
			return tuple{opaque{"resmap"}, opaque{"err"}}
		}
	case *structVal:
		return opaque{"method " + name}
	case opaque:
		// t.Run / t.Skip on the *testing.T the test got.
		if o.why == "t" {
			return r.testingT(x, name, a, en)
		}
	}
	return opaque{exprText(r.p, x)}
}

func (r *run) testingT(x *ast.CallExpr, name string, a []any, en *env) any {
	switch name {
	case "Run":
		c, ok := a[1].(*closure)
		if !ok {
			r.fail(x, "t.Run without a function literal")
		}
		r.sub = append(r.sub, fmt.Sprint(a[0]))
		defer func() { r.sub = r.sub[:len(r.sub)-1] }()
		r.subtest(c)
		return true
	case "Skip", "Skipf", "SkipNow":
		msg := "t.SkipNow()"
		if len(a) > 0 {
			if s, ok := a[0].(string); ok {
				msg = s
			}
		}
		panic(skipNow{msg})
	}
	_ = en
	return nil
}

// subtest runs a t.Run body; a subtest that skips or cannot be converted is
// recorded and does not stop its siblings.
func (r *run) subtest(c *closure) {
	defer func() {
		if e := recover(); e != nil {
			r.recordPanic(e)
		}
	}()
	r.invoke(c, []any{opaque{"t"}})
}

func (r *run) recordPanic(e any) {
	switch s := e.(type) {
	case categorized:
		r.addSkip(s.why, s.category)
	case unsupported:
		if c, ok := byFile[r.source]; ok {
			r.addSkip(c[1], c[0])
			return
		}
		if c, ok := byFunction[r.fn]; ok {
			r.addSkip(c[1]+" ("+s.why+")", c[0])
			return
		}
		r.addSkip("converter: "+s.why, "converter")
	case skipNow:
		reason, cat := "kustomize's test skips itself: "+s.why, "skipped-upstream"
		if r.helm {
			reason, cat = "helm: needs the helm binary", "helm"
		}
		r.addSkip(reason, cat)
	default:
		panic(e)
	}
}

func (r *run) addSkip(reason, category string) {
	r.skips = append(r.skips, skip{Source: r.source, Function: r.fn, Subcase: strings.Join(r.sub, "/"), Reason: reason, Category: category})
}

func (r *run) harnessCall(x *ast.CallExpr, h *harness, name string, a []any) any {
	switch name {
	case "WriteK", "WriteC":
		kind := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
		if name == "WriteC" {
			kind = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
		}
		h.fs.write(path.Join(r.str(x, a[0]), "kustomization.yaml"), "\n"+kind+r.str(x, a[1]))
	case "WriteF":
		h.fs.write(r.str(x, a[0]), r.str(x, a[1]))
	case "WriteLegacyConfigs":
		h.fs.write(r.str(x, a[0]), legacyConfigs)
	case "MkDir":
		return r.str(x, a[0])
	case "GetRoot":
		return "/"
	case "GetFSys":
		return h.fs
	case "GetT":
		return opaque{"t"}
	case "MakeDefaultOptions", "MakeOptionsPluginsDisabled":
		return &options{}
	case "MakeOptionsPluginsEnabled":
		return &options{plugins: true}
	case "ResetLoaderRoot":
		h.root = clean(r.str(x, a[0]))
	case "PrepBuiltin", "Reset", "AssertActualEqualsExpected", "AssertActualEqualsExpectedNoIdAnnotations", "AssertActualEqualsExpectedWithTweak":
		if name == "PrepBuiltin" {
			return h
		}
		return nil
	case "BuildGoPlugin", "PrepExecPlugin":
		h.plugins = append(h.plugins, name)
		return h
	case "ErrIfNoHelm":
		r.helm = true
		return opaque{"err"}
	case "GetPluginConfig":
		return opaque{"plugin config"}
	case "Run", "RunWithErr":
		opts, _ := a[1].(*options)
		if opts == nil {
			opts = &options{}
		}
		r.capture(h.fs, r.str(x, a[0]), opts, "th."+name, h)
		if name == "Run" {
			return opaque{"resmap"}
		}
		return opaque{"err"}
	case "LoadAndRunGenerator", "LoadAndRunGeneratorWithBuildAnnotations":
		r.captureGenerator(x, h, r.str(x, a[0]), name)
		return opaque{"resmap"}
	case "LoadAndRunTransformer", "RunTransformerAndCheckResult", "ErrorFromLoadAndRunTransformer", "RunTransformerAndCheckError", "RunTransformer":
		r.captureTransformer(x, h, r.str(x, a[0]), r.str(x, a[1]), name)
		if name == "RunTransformer" {
			return tuple{opaque{"resmap"}, opaque{"err"}}
		}
		return opaque{"resmap"}
	case "RunTransformerFromResMap":
		r.fail(x, "RunTransformerFromResMap takes a Go-built ResMap")
	default:
		return opaque{"th." + name}
	}
	return nil
}

// The harness's generator/transformer runs become a kustomization at the loader
// root that lists the plugin config under generators:/transformers:, which is how
// a kustomization file reaches a built-in plugin.
const (
	pluginConfigFile = "kustomize-spec-plugin-config.yaml"
	pluginInputFile  = "kustomize-spec-input.yaml"
)

func (r *run) captureGenerator(x *ast.CallExpr, h *harness, config, via string) {
	fs := &fsys{files: h.fs.snapshot()}
	fs.write(path.Join(h.root, pluginConfigFile), config)
	fs.write(path.Join(h.root, "kustomization.yaml"), "generators:\n- "+pluginConfigFile+"\n")
	r.capture(fs, h.root, &options{}, "th."+via, h)
}

func (r *run) captureTransformer(x *ast.CallExpr, h *harness, config, input, via string) {
	fs := &fsys{files: h.fs.snapshot()}
	fs.write(path.Join(h.root, pluginConfigFile), config)
	fs.write(path.Join(h.root, pluginInputFile), input)
	fs.write(path.Join(h.root, "kustomization.yaml"), "resources:\n- "+pluginInputFile+"\ntransformers:\n- "+pluginConfigFile+"\n")
	r.capture(fs, h.root, &options{}, "th."+via, h)
}

var (
	remoteRef  = regexp.MustCompile(`(?m)^\s*-\s*(https?://|git@|ssh://|github\.com/|gitlab\.com/|file://)|\?ref=`)
	helmRef    = regexp.MustCompile(`(?m)^helmCharts:|kind: HelmChartInflationGenerator|^helmGlobals:`)
	fnRef      = regexp.MustCompile(`config\.kubernetes\.io/function|\bcontainer:\s*\n\s+image:|\bexec:\s*\n\s+path:`)
)

func (r *run) capture(fs *fsys, buildPath string, opts *options, via string, h *harness) {
	sub := strings.Join(r.sub, "/")
	files := fs.snapshot()
	all := ""
	for _, v := range files {
		all += v + "\n"
	}
	reason, category := "", ""
	switch {
	case h != nil && len(h.plugins) > 0:
		reason, category = "needs a plugin binary ("+strings.Join(h.plugins, ", ")+")", "plugin"
	case opts.plugins:
		reason, category = "needs plugins enabled (krusty.Options.PluginConfig: exec/Go plugins or KRM functions)", "plugin"
	case len(opts.changed) > 0:
		reason, category = "Go-only API: krusty.Options."+strings.Join(opts.changed, ", ")+" (no kustomization field sets it)", "go-api"
	case r.helm || helmRef.MatchString(all):
		reason, category = "helm: needs the helm binary", "helm"
	case fnRef.MatchString(all):
		reason, category = "KRM function (container or exec)", "function"
	case escapesRoot(files):
		reason, category = "converter: a kustomization reaches above the in-memory file system's root, where '/..' is '/' (no folder on disk behaves so)", "converter"
	case remoteRef.MatchString(all) || remoteKustomization(files):
		reason, category = "network: remote resource", "network"
	}
	if reason != "" {
		r.skips = append(r.skips, skip{Source: r.source, Function: r.fn, Subcase: sub, Reason: reason, Category: category})
		return
	}
	base := strings.TrimSuffix(path.Base(r.source), "_test.go") + "--" + r.fn
	if sub != "" {
		base += "--" + slug(sub)
	}
	r.counter[base]++
	name := base
	if r.counter[base] > 1 {
		name = fmt.Sprintf("%s--%d", base, r.counter[base])
	}
	r.cases = append(r.cases, &fixtureCase{
		Name: name, Source: r.source, Function: r.fn, Subcase: sub,
		Build: clean(buildPath), Via: via, KubectlFlags: opts.flags, GoExpectsFail: via == "th.RunWithErr" || strings.HasPrefix(via, "th.ErrorFrom") || via == "th.RunTransformerAndCheckError",
		Files: files,
	})
}

var nonSlug = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func slug(s string) string {
	s = strings.Trim(nonSlug.ReplaceAllString(s, "-"), "-")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// ---- statements ----------------------------------------------------------------------

func (r *run) block(list []ast.Stmt, en *env) *returned {
	for _, s := range list {
		if res := r.stmt(s, en); res != nil {
			return res
		}
	}
	return nil
}

func (r *run) stmt(s ast.Stmt, en *env) *returned {
	switch x := s.(type) {
	case *ast.ExprStmt:
		r.eval(x.X, en)
	case *ast.AssignStmt:
		r.assign(x, en)
	case *ast.DeclStmt:
		g, ok := x.Decl.(*ast.GenDecl)
		if !ok {
			return nil
		}
		for _, sp := range g.Specs {
			switch v := sp.(type) {
			case *ast.ValueSpec:
				for i, n := range v.Names {
					if i < len(v.Values) {
						en.vars[n.Name] = r.element(v.Values[i], v.Type, en)
					} else {
						en.vars[n.Name] = opaque{n.Name}
					}
				}
			case *ast.TypeSpec:
				r.p.types[v.Name.Name] = v.Type
			}
		}
	case *ast.DeferStmt, *ast.GoStmt, *ast.EmptyStmt, *ast.BranchStmt:
	case *ast.ReturnStmt:
		res := &returned{}
		for _, v := range x.Results {
			res.vals = append(res.vals, r.eval(v, en))
		}
		return res
	case *ast.BlockStmt:
		return r.block(x.List, child(en))
	case *ast.IfStmt:
		inner := child(en)
		if x.Init != nil {
			r.stmt(x.Init, inner)
		}
		cond := r.eval(x.Cond, inner)
		b, ok := cond.(bool)
		if !ok {
			// A condition on an error or a result: an assertion, not a case.
			return nil
		}
		if b {
			return r.block(x.Body.List, child(inner))
		} else if x.Else != nil {
			return r.stmt(x.Else, inner)
		}
	case *ast.RangeStmt:
		return r.rangeStmt(x, en)
	case *ast.IncDecStmt:
		if id, ok := x.X.(*ast.Ident); ok {
			if n, ok := r.eval(id, en).(int64); ok {
				if x.Tok == token.INC {
					en.set(id.Name, n+1)
				} else {
					en.set(id.Name, n-1)
				}
			}
		}
	case *ast.ForStmt:
		inner := child(en)
		if x.Init != nil {
			r.stmt(x.Init, inner)
		}
		for i := 0; ; i++ {
			if i > 10000 {
				r.fail(x, "loop does not end")
			}
			if c, ok := r.eval(x.Cond, inner).(bool); !ok {
				r.fail(x, "loop condition")
			} else if !c {
				break
			}
			if res := r.block(x.Body.List, child(inner)); res != nil {
				return res
			}
			if x.Post != nil {
				r.stmt(x.Post, inner)
			}
		}
	default:
		r.fail(s, "statement %T", s)
	}
	return nil
}

func (r *run) rangeStmt(x *ast.RangeStmt, en *env) *returned {
	coll := r.eval(x.X, en)
	bind := func(k, v any) *env {
		inner := child(en)
		if id, ok := x.Key.(*ast.Ident); ok && id.Name != "_" {
			inner.vars[id.Name] = k
		}
		if id, ok := x.Value.(*ast.Ident); ok && id != nil && id.Name != "_" {
			inner.vars[id.Name] = v
		}
		return inner
	}
	iterate := func(label string, k, v any) {
		// Each table entry is a subcase of its own, as t.Run would make it.
		pushed := false
		if !containsRun(x.Body) {
			r.sub = append(r.sub, label)
			pushed = true
		}
		defer func() {
			if pushed {
				r.sub = r.sub[:len(r.sub)-1]
			}
		}()
		r.block(x.Body.List, bind(k, v))
	}
	switch c := coll.(type) {
	case []any:
		for i, v := range c {
			iterate(caseLabel(i, v), int64(i), v)
		}
	case *mapVal:
		idx := make([]int, len(c.keys))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return fmt.Sprint(c.keys[idx[a]]) < fmt.Sprint(c.keys[idx[b]]) })
		for _, i := range idx {
			iterate(fmt.Sprint(c.keys[i]), c.keys[i], c.vals[i])
		}
	case opaque:
		// A loop over a result (m.Resources(), an error list): an assertion, not a case.
	default:
		r.fail(x, "range over %s", exprText(r.p, x.X))
	}
	return nil
}

// caseLabel names a table entry by its name-like field, else by its index.
func caseLabel(i int, v any) string {
	if s, ok := v.(*structVal); ok {
		for _, f := range []string{"name", "Name", "description", "testName", "desc"} {
			if n, ok := s.fields[f].(string); ok && n != "" {
				return n
			}
		}
	}
	return fmt.Sprintf("#%d", i)
}

func containsRun(b *ast.BlockStmt) bool {
	found := false
	ast.Inspect(b, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "Run" {
				if id, ok := s.X.(*ast.Ident); ok && id.Name == "t" {
					found = true
				}
			}
		}
		return !found
	})
	return found
}

func (r *run) assign(x *ast.AssignStmt, en *env) {
	var vals []any
	if len(x.Rhs) == 1 && len(x.Lhs) > 1 {
		v := r.eval(x.Rhs[0], en)
		if t, ok := v.(tuple); ok {
			vals = t
		} else {
			vals = []any{v}
		}
		for len(vals) < len(x.Lhs) {
			vals = append(vals, opaque{"err"})
		}
	} else {
		for _, e := range x.Rhs {
			vals = append(vals, r.eval(e, en))
		}
	}
	for i, l := range x.Lhs {
		v := vals[i]
		switch t := l.(type) {
		case *ast.Ident:
			if t.Name == "_" {
				continue
			}
			if x.Tok == token.DEFINE {
				en.vars[t.Name] = v
			} else if x.Tok == token.ASSIGN {
				en.set(t.Name, v)
			} else if x.Tok == token.ADD_ASSIGN {
				old, _ := en.lookup(t.Name)
				a, ok1 := old.(string)
				b, ok2 := v.(string)
				if !ok1 || !ok2 {
					r.fail(x, "+= on non-strings")
				}
				en.set(t.Name, a+b)
			}
		case *ast.SelectorExpr:
			target := r.eval(t.X, en)
			switch o := target.(type) {
			case *options:
				text := exprText(r.p, x.Rhs[min(i, len(x.Rhs)-1)])
				if t.Sel.Name == "LoadRestrictions" && strings.HasSuffix(text, "LoadRestrictionsNone") {
					o.flags = append(o.flags, "--load-restrictor", "LoadRestrictionsNone")
				} else if !isDefaultOption(t.Sel.Name, v, text) {
					o.changed = append(o.changed, t.Sel.Name)
				}
			case *structVal:
				o.fields[t.Sel.Name] = v
			default:
				// Assignments into Go structures (plugin configs…) the fixture cannot carry.
				if _, isOpaque := target.(opaque); isOpaque && exprText(r.p, t.X) != "" {
					text := exprText(r.p, l)
					if strings.HasSuffix(text, ".BpLoadingOptions") && strings.HasSuffix(exprText(r.p, x.Rhs[0]), "BploUseStaticallyLinked") {
						continue // built-in plugins linked in: what kubectl does
					}
					if strings.Contains(text, "FnpLoadingOptions") {
						panic(categorized{"function", "KRM function: the test enables exec/container functions (" + text + ")"})
					}
					if strings.Contains(exprText(r.p, t.X), "PluginConfig") || strings.HasPrefix(exprText(r.p, t.X), "o.") || strings.HasPrefix(exprText(r.p, t.X), "opts.") {
						r.fail(x, "assigns %s", exprText(r.p, l))
					}
				}
			}
		case *ast.IndexExpr:
			c := r.eval(t.X, en)
			if m, ok := c.(*mapVal); ok {
				m.keys = append(m.keys, r.eval(t.Index, en))
				m.vals = append(m.vals, v)
			}
		}
	}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// isDefaultOption: an option a test sets to what krusty.MakeDefaultOptions already has.
func isDefaultOption(field string, v any, text string) bool {
	switch field {
	case "AddManagedbyLabel":
		return v == false
	case "LoadRestrictions":
		return strings.HasSuffix(text, "LoadRestrictionsRootOnly")
	}
	return false
}

// ---- driver ----------------------------------------------------------------------------

func git(repo string, args ...string) string {
	out, err := exec.Command("git", append([]string{"--git-dir", repo}, args...)...).Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "git %v: %v\n", args, err)
		os.Exit(2)
	}
	return string(out)
}

func main() {
	repo := flag.String("repo", "/work/.mirror/kubernetes-sigs+kustomize/repo", "kustomize's git directory")
	tag := flag.String("tag", "kustomize/v5.5.0", "the tag whose tests are the specification")
	out := flag.String("out", "test/render/kustomize-spec", "the fixture folder")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "kustomize-spec-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	var testFiles, consts []string
	byDir := map[string][]string{}
	for _, f := range strings.Split(strings.TrimSpace(git(*repo, "ls-tree", "-r", "--name-only", *tag, "api/krusty", "plugin/builtin", "api/internal/konfig/builtinpluginconsts")), "\n") {
		if strings.Contains(f, "/localizer/") {
			continue
		}
		dst := filepath.Join(tmp, f)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		os.WriteFile(dst, []byte(git(*repo, "show", *tag+":"+f)), 0o644)
		if !strings.HasSuffix(f, ".go") {
			continue
		}
		if strings.Contains(f, "builtinpluginconsts") {
			consts = append(consts, f)
			continue
		}
		byDir[path.Dir(f)] = append(byDir[path.Dir(f)], f)
		if strings.HasSuffix(f, "_test.go") {
			testFiles = append(testFiles, f)
		}
	}
	sort.Strings(testFiles)
	legacyConfigs = readLegacyConfigs(tmp, consts)

	pkgs := map[string]*pkg{}
	var cases []*fixtureCase
	var skips []skip
	for _, f := range testFiles {
		dir := path.Dir(f)
		p := pkgs[dir]
		if p == nil {
			p = loadPackage(tmp, byDir[dir])
			p.dir = filepath.Join(tmp, dir)
			pkgs[dir] = p
		}
		file := p.files(tmp, f)
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !strings.HasPrefix(fd.Name.Name, "Test") || fd.Body == nil {
				continue
			}
			r := &run{p: p, source: f, fn: fd.Name.Name, counter: map[string]int{}}
			func() {
				defer func() {
					if e := recover(); e != nil {
						r.recordPanic(e)
					}
				}()
				r.invoke(r.closureOf(fd.Type, fd.Body, &env{vars: map[string]any{}}), []any{opaque{"t"}})
			}()
			if len(r.cases) == 0 && len(r.skips) == 0 {
				r.addSkip("converter: the test builds nothing through the harness (it tests a Go API directly)", "go-api")
			}
			cases = append(cases, r.cases...)
			skips = append(skips, r.skips...)
		}
	}
	writeOut(*out, *tag, cases, skips)
	fmt.Printf("%d cases converted, %d skipped\n", len(cases), len(skips))
}

func loadPackage(root string, files []string) *pkg {
	p := &pkg{fset: token.NewFileSet(), funcs: map[string]*ast.FuncDecl{}, decls: map[string]ast.Expr{}, types: map[string]ast.Expr{}, cache: map[string]any{}}
	for _, f := range files {
		af := p.files(root, f)
		for _, d := range af.Decls {
			switch g := d.(type) {
			case *ast.FuncDecl:
				if g.Recv == nil {
					p.funcs[g.Name.Name] = g
				}
			case *ast.GenDecl:
				for _, sp := range g.Specs {
					switch v := sp.(type) {
					case *ast.ValueSpec:
						for i, n := range v.Names {
							if i < len(v.Values) {
								p.decls[n.Name] = v.Values[i]
							}
						}
					case *ast.TypeSpec:
						p.types[v.Name.Name] = v.Type
					}
				}
			}
		}
	}
	return p
}

var parsed = map[string]*ast.File{}

func (p *pkg) files(root, f string) *ast.File {
	if af, ok := parsed[f]; ok {
		return af
	}
	af, err := parser.ParseFile(p.fset, filepath.Join(root, f), nil, 0)
	if err != nil {
		panic(err)
	}
	parsed[f] = af
	return af
}

func writeOut(out, tag string, cases []*fixtureCase, skips []skip) {
	casesDir := filepath.Join(out, "cases")
	os.RemoveAll(casesDir)
	for _, c := range cases {
		dir := filepath.Join(casesDir, c.Name)
		for p, content := range c.Files {
			dst := filepath.Join(dir, "in", p)
			os.MkdirAll(filepath.Dir(dst), 0o755)
			if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
				panic(err)
			}
		}
		os.MkdirAll(filepath.Join(dir, "in", c.Build), 0o755)
		meta := map[string]any{"kustomize": tag, "source": c.Source, "function": c.Function, "build": c.Build, "via": c.Via, "goTestExpectsError": c.GoExpectsFail}
		if c.Subcase != "" {
			meta["subcase"] = c.Subcase
		}
		if len(c.KubectlFlags) > 0 {
			meta["kubectlFlags"] = c.KubectlFlags
		}
		data, _ := json.MarshalIndent(meta, "", "  ")
		os.WriteFile(filepath.Join(dir, "case.json"), append(data, '\n'), 0o644)
	}
	sort.SliceStable(skips, func(a, b int) bool {
		if skips[a].Source != skips[b].Source {
			return skips[a].Source < skips[b].Source
		}
		return skips[a].Function < skips[b].Function
	})
	data, _ := json.MarshalIndent(map[string]any{"kustomize": tag, "skipped": skips}, "", "  ")
	os.WriteFile(filepath.Join(out, "skipped.json"), append(data, '\n'), 0o644)
}

// readLegacyConfigs concatenates the default field spec constants in the order of
// builtinpluginconsts.GetDefaultFieldSpecs.
func readLegacyConfigs(root string, files []string) string {
	p := loadPackage(root, files)
	r := &run{p: p}
	out := ""
	for _, name := range []string{"namePrefixFieldSpecs", "nameSuffixFieldSpecs", "commonLabelFieldSpecs", "templateLabelFieldSpecs", "commonAnnotationFieldSpecs", "namespaceFieldSpecs", "varReferenceFieldSpecs", "nameReferenceFieldSpecs", "imagesFieldSpecs", "replicasFieldSpecs"} {
		s, ok := r.global(name).(string)
		if !ok {
			panic("builtinpluginconsts: " + name)
		}
		out += s
	}
	return out
}

var upRef = regexp.MustCompile(`(?m)^\s*(?:-|path:)\s*((?:\.\./)+)`)

// escapesRoot: a kustomization's ../ entry that climbs above the file system's root.
func escapesRoot(files map[string]string) bool {
	for p, content := range files {
		if path.Base(p) != "kustomization.yaml" {
			continue
		}
		depth := 0
		if d := path.Dir(p); d != "." {
			depth = len(strings.Split(d, "/"))
		}
		for _, m := range upRef.FindAllStringSubmatch(content, -1) {
			if strings.Count(m[1], "../") > depth {
				return true
			}
		}
	}
	return false
}

var urlRef = regexp.MustCompile(`https?://`)

// remoteKustomization: a kustomization file that names a URL (a remote schema, resource or base).
func remoteKustomization(files map[string]string) bool {
	for p, content := range files {
		if path.Base(p) == "kustomization.yaml" && urlRef.MatchString(content) {
			return true
		}
	}
	return false
}
