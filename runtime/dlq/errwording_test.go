package dlq

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestErrorsDoNotNameThePackage holds the wording convention of errors.go:
// no error the queue makes starts with the package's name (its caller
// names it), so messages do not read "dead-letter queue: dlq stats: …".
func TestErrorsDoNotNameThePackage(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || !(pkg.Name == "fmt" && sel.Sel.Name == "Errorf" || pkg.Name == "errors" && sel.Sel.Name == "New") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, _ := strconv.Unquote(lit.Value)
			seen++
			if strings.HasPrefix(strings.ToLower(s), "dlq") {
				t.Errorf("%s: error %q names the package; start with the operation (see errors.go)", fset.Position(lit.Pos()), s)
			}
			return true
		})
	}
	if seen < 20 {
		t.Fatalf("found only %d error strings: the scan is broken", seen)
	}
}
