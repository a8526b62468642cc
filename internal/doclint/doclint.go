// Package doclint checks the links in a module's Go doc comments.
//
// A doc comment links to a declaration or a package by naming it in
// square brackets, in one of go/doc/comment's forms:
//
//	[Name]               a declaration of the same package
//	[Type.Method]        a method or field (also Type.Field)
//	[pkg.Name]           a declaration of an imported package
//	[path/to/pkg.Name]   a declaration of any package, by import path
//	[pkg]                a package
//
// Two mistakes go unnoticed by the compiler and by go vet: a link that go
// doc accepts but whose target does not exist (go doc renders a link to
// another package, or one naming the documented package itself, without
// looking for the name in it), and a bracketed name that go doc cannot
// resolve at all (an undeclared name, a package the file does not
// import), which it then prints as plain text in brackets. A [Checker]
// reports both.
//
// It checks the comments go doc shows: the package comment and those of
// every declaration (unexported ones included, as go doc -u shows them),
// of struct fields and interface methods, and of examples. Targets are
// resolved by parsing their packages' sources: the module's own, the
// standard library's in GOROOT, and dependencies found through
// [go/build] (which asks the go command where they are).
package doclint

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Problem is a doc link that names nothing, or bracketed text that looks
// like a link but that go doc prints as plain text.
type Problem struct {
	Pos  token.Position // where the link is
	Link string         // the text between the brackets
	Why  string         // what is wrong with it
}

// String formats p for a report: the position, the bracketed text and why
// it is a problem.
func (p Problem) String() string {
	return fmt.Sprintf("%s: [%s]: %s", p.Pos, p.Link, p.Why)
}

// A Checker checks the doc links of one module's packages. It caches what
// it learns about target packages, so one Checker should check them all.
type Checker struct {
	root   string // the module's directory
	module string // its module path
	ctxt   build.Context
	fset   *token.FileSet
	pkgs   map[string]symbols // by import path; nil: no such package

	checked, links int // packages and doc links checked
}

// Counts returns how many packages and doc links c has checked, for a
// report that shows the check saw something.
func (c *Checker) Counts() (packages, links int) { return c.checked, c.links }

// NewChecker returns a Checker for the module whose go.mod is in root.
func NewChecker(root string) (*Checker, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	module := ""
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			module = strings.Trim(f[1], `"`)
			break
		}
	}
	if module == "" {
		return nil, fmt.Errorf("%s/go.mod: no module line", root)
	}
	return &Checker{
		root:   root,
		module: module,
		ctxt:   build.Default,
		fset:   token.NewFileSet(),
		pkgs:   make(map[string]symbols),
	}, nil
}

// Module checks every package of the module: every directory under its
// root with Go files, except testdata, vendor and node_modules
// directories, hidden ones, and nested modules.
func (c *Checker) Module() ([]Problem, error) {
	var dirs []string
	err := filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != c.root {
			if name == "testdata" || name == "vendor" || name == "node_modules" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own
			}
		}
		dirs = append(dirs, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var all []Problem
	for _, dir := range dirs {
		rel, err := filepath.Rel(c.root, dir)
		if err != nil {
			return nil, err
		}
		ps, err := c.Dir(dir, path.Join(c.module, filepath.ToSlash(rel)))
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
	}
	return all, nil
}

// Dir checks the package in dir, whose import path is importPath. A
// directory without a package (no non-test Go files) has no problems.
func (c *Checker) Dir(dir, importPath string) ([]Problem, error) {
	files, tests, err := c.parseDir(dir, parser.ParseComments)
	if err != nil || files == nil {
		return nil, err
	}
	// Collect the comments before go/doc, which takes them off the AST.
	var comments []*ast.CommentGroup
	for _, f := range files {
		comments = append(comments, fileComments(f)...)
	}
	for _, f := range tests {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Example") && fn.Doc != nil {
				comments = append(comments, fn.Doc)
			}
		}
	}
	// The Parser of the package as go doc documents it: imports by name
	// and the package's symbols, which decide what becomes a link.
	pkg, err := doc.NewFromFiles(c.fset, files, importPath)
	if err != nil {
		return nil, err
	}
	p := pkg.Parser()
	c.pkgs[importPath] = symbolsOf(pkg) // for links that name the package itself
	c.checked++
	var problems []Problem
	for _, cg := range comments {
		text := cg.Text()
		d := p.Parse(text)
		walkText(d.Content, func(ts []comment.Text) {
			problems = append(problems, c.checkText(cg, pkg, importPath, ts)...)
		})
	}
	return problems, nil
}

// checkText checks the links of one paragraph, heading or list item, and
// the bracketed text in it that did not become a link.
func (c *Checker) checkText(cg *ast.CommentGroup, pkg *doc.Package, importPath string, ts []comment.Text) []Problem {
	var problems []Problem
	add := func(link, why string) {
		problems = append(problems, Problem{Pos: c.linkPos(cg, link), Link: link, Why: why})
	}
	// The plain text, with links replaced by a character no name has, so
	// that brackets next to a link are judged as the parser judges them.
	var plain strings.Builder
	for _, t := range ts {
		switch t := t.(type) {
		case comment.Plain:
			plain.WriteString(string(t))
		case comment.Italic:
			plain.WriteString(string(t))
		case *comment.Link:
			plain.WriteString("\uFFFC")
		case *comment.DocLink:
			plain.WriteString("\uFFFC")
			c.links++
			if why := c.resolve(t, importPath); why != "" {
				add(linkText(t), why)
			}
		}
	}
	s := plain.String()
	for _, m := range bracketed.FindAllStringSubmatchIndex(s, -1) {
		start, end := m[0], m[1]
		inner := s[m[2]:m[3]]
		if !punctOrSpaceBefore(s[:start]) || !punctOrSpaceAfter(s[end:]) {
			continue // a[i]: not a link for go doc either
		}
		add(inner, c.unresolved(inner, pkg))
	}
	return problems
}

// bracketed matches text go doc would try as a link: a Go name or dotted
// names, perhaps after an import path, perhaps with a leading '*'.
var bracketed = regexp.MustCompile(`\[(\*?(?:[A-Za-z0-9_.\-~]+/)*[\pL_][\pL\pN_]*(?:\.[\pL_][\pL\pN_]*)*)\]`)

// punctOrSpaceBefore and punctOrSpaceAfter are go/doc/comment's condition
// on the characters around a doc link.
func punctOrSpaceBefore(before string) bool {
	if before == "" {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(before)
	return unicode.IsPunct(r) || r == ' ' || r == '\t' || r == '\n'
}

func punctOrSpaceAfter(after string) bool {
	if after == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(after)
	return unicode.IsPunct(r) || r == ' ' || r == '\t' || r == '\n'
}

// unresolved says why go doc did not make a link of the bracketed inner.
func (c *Checker) unresolved(inner string, pkg *doc.Package) string {
	name := strings.TrimPrefix(inner, "*")
	first, rest, dotted := strings.Cut(name, ".")
	switch {
	case strings.Contains(name, "/"):
		return "not a link: not an import path followed by a name"
	case isExported(first):
		return fmt.Sprintf("not a link: go doc finds no %s in package %s", name, pkg.Name)
	case !dotted:
		return fmt.Sprintf("not a link: no package %s is imported here", name)
	case !isExported(rest[strings.LastIndex(rest, ".")+1:]):
		return "not a link: the name after the last dot is not exported"
	}
	return fmt.Sprintf("not a link: no package %s is imported here (use its import path)", first)
}

// resolve checks a doc link's target; it returns why the link is broken,
// or "".
func (c *Checker) resolve(l *comment.DocLink, importPath string) string {
	target := l.ImportPath
	if target == "" {
		target = importPath // [Name], or [pkg.Name] with the package's own name
	}
	syms := c.symbols(target)
	if syms == nil {
		return fmt.Sprintf("no package %s", target)
	}
	if l.Name == "" {
		return "" // a link to the package
	}
	name := l.Name
	if l.Recv != "" {
		name = l.Recv + "." + l.Name
	}
	if !syms.has(name) {
		return fmt.Sprintf("%s declares no %s", target, name)
	}
	return ""
}

// linkText is the text between a link's brackets.
func linkText(l *comment.DocLink) string {
	var b strings.Builder
	for _, t := range l.Text {
		switch t := t.(type) {
		case comment.Plain:
			b.WriteString(string(t))
		case comment.Italic:
			b.WriteString(string(t))
		}
	}
	return b.String()
}

// linkPos returns where the bracketed link is in cg: the line of the
// first comment that holds it, or the group's start.
func (c *Checker) linkPos(cg *ast.CommentGroup, link string) token.Position {
	want := "[" + link + "]"
	for _, inText := range []bool{true, false} {
		for _, cm := range cg.List {
			i := strings.Index(cm.Text, want)
			if i < 0 || inText && isCode(cm.Text) {
				continue
			}
			pos := c.fset.Position(cm.Slash)
			pos.Line += strings.Count(cm.Text[:i], "\n")
			pos.Column = 0
			return pos
		}
	}
	pos := c.fset.Position(cg.Pos())
	pos.Column = 0
	return pos
}

// isCode reports whether the line comment text is indented, as the lines
// of a code block are, where a bracketed name is no link.
func isCode(text string) bool {
	return strings.HasPrefix(text, "//\t") || strings.HasPrefix(text, "//  ")
}

// walkText calls f with the text of every paragraph, heading and list
// item in blocks; code blocks hold no links.
func walkText(blocks []comment.Block, f func([]comment.Text)) {
	for _, b := range blocks {
		switch b := b.(type) {
		case *comment.Paragraph:
			f(b.Text)
		case *comment.Heading:
			f(b.Text)
		case *comment.List:
			for _, item := range b.Items {
				walkText(item.Content, f)
			}
		}
	}
}

// fileComments returns the doc comments of f: the package comment, and
// those of its declarations, their specs, struct fields and interface
// methods.
func fileComments(f *ast.File) []*ast.CommentGroup {
	var out []*ast.CommentGroup
	add := func(cg *ast.CommentGroup) {
		if cg != nil {
			out = append(out, cg)
		}
	}
	add(f.Doc)
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			add(d.Doc)
		case *ast.GenDecl:
			add(d.Doc)
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					add(s.Doc)
					ast.Inspect(s.Type, func(n ast.Node) bool {
						if fl, ok := n.(*ast.FieldList); ok {
							for _, fd := range fl.List {
								add(fd.Doc)
							}
						}
						return true
					})
				case *ast.ValueSpec:
					add(s.Doc)
				}
			}
		}
	}
	return out
}

// parseDir parses the Go files in dir that belong to its package (that
// go/build names for this platform), for every platform: files and, with
// their names ending in _test.go, tests. files is nil if dir has no
// package.
func (c *Checker) parseDir(dir string, mode parser.Mode) (files, tests []*ast.File, err error) {
	bp, err := c.ctxt.ImportDir(dir, 0)
	var noGo *build.NoGoError
	if errors.As(err, &noGo) {
		return nil, nil, nil
	}
	if err != nil && bp.Name == "" {
		return nil, nil, err
	}
	names := append(append(append([]string(nil), bp.GoFiles...), bp.CgoFiles...), bp.IgnoredGoFiles...)
	if mode&parser.ParseComments != 0 {
		names = append(append(names, bp.TestGoFiles...), bp.XTestGoFiles...)
	}
	sort.Strings(names)
	for _, name := range names {
		f, err := parser.ParseFile(c.fset, filepath.Join(dir, name), nil, mode|parser.SkipObjectResolution)
		if err != nil {
			return nil, nil, err
		}
		switch pkg := f.Name.Name; {
		case !strings.HasSuffix(name, "_test.go") && pkg == bp.Name:
			files = append(files, f)
		case strings.HasSuffix(name, "_test.go") && (pkg == bp.Name || pkg == bp.Name+"_test"):
			tests = append(tests, f)
		}
	}
	return files, tests, nil
}

// symbols returns the symbols of the package at importPath, or nil if
// there is no such package.
func (c *Checker) symbols(importPath string) symbols {
	if s, ok := c.pkgs[importPath]; ok {
		return s
	}
	var dir string
	if importPath == c.module || strings.HasPrefix(importPath, c.module+"/") {
		dir = filepath.Join(c.root, filepath.FromSlash(strings.TrimPrefix(importPath, c.module)))
	} else if bp, err := c.ctxt.Import(importPath, c.root, build.FindOnly); err == nil {
		dir = bp.Dir
	}
	var s symbols
	if dir != "" {
		if files, _, err := c.parseDir(dir, 0); err == nil && files != nil {
			if pkg, err := doc.NewFromFiles(c.fset, files, importPath); err == nil {
				s = symbolsOf(pkg)
			}
		}
	}
	c.pkgs[importPath] = s
	return s
}

// symbols are the names a doc link to a package may name, as go doc
// decides them for links within the package: exported top-level names,
// and T.M for the methods of exported types (with those go doc promotes
// from embedded unexported types) and their named fields and interface
// methods.
type symbols map[string]bool

// has reports whether name (Name or T.M) is one of s.
func (s symbols) has(name string) bool { return s[name] }

// symbolsOf gathers the symbols of pkg.
func symbolsOf(pkg *doc.Package) symbols {
	s := make(symbols)
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, n := range v.Names {
				s[n] = true
			}
		}
	}
	values(pkg.Consts)
	values(pkg.Vars)
	for _, f := range pkg.Funcs {
		s[f.Name] = true
	}
	for _, t := range pkg.Types {
		s[t.Name] = true
		values(t.Consts)
		values(t.Vars)
		for _, f := range t.Funcs {
			s[f.Name] = true
		}
		for _, m := range t.Methods {
			s[t.Name+"."+m.Name] = true
		}
		for _, spec := range t.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok || ts.Name.Name != t.Name {
				continue
			}
			var fields *ast.FieldList
			switch typ := ts.Type.(type) {
			case *ast.StructType:
				fields = typ.Fields
			case *ast.InterfaceType:
				fields = typ.Methods
			}
			if fields == nil {
				continue
			}
			for _, f := range fields.List {
				for _, n := range f.Names {
					s[t.Name+"."+n.Name] = true
				}
			}
		}
	}
	return s
}

func isExported(name string) bool {
	r, _ := utf8.DecodeRuneInString(name)
	return unicode.IsUpper(r)
}
