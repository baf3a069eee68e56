package annotations_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"

	"github.com/baldur-go/baldur/annotations"
)

func Example() {
	const src = `package shop

//baldur:protect name=payments retry=3 timeout=5s
type Gateway interface {
	//baldur:protect idempotency=orderID dlq
	Charge(orderID string) error

	//baldur:protect retry=off fallback=cachedBalance
	Balance(account string) (int64, error)

	//baldur:protect retry=0 dlq=yes
	Refund(orderID string) error
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "shop.go", src, parser.ParseComments)
	if err != nil {
		panic(err)
	}
	decl := f.Decls[0].(*ast.GenDecl)
	var errs scanner.ErrorList
	iface := annotations.Parse(fset, decl.Doc, &errs)
	fmt.Println("Gateway:", iface.Policy)

	for _, m := range decl.Specs[0].(*ast.TypeSpec).Type.(*ast.InterfaceType).Methods.List {
		var own annotations.Policy // a method without a directive takes the interface's
		if d := annotations.Parse(fset, m.Doc, &errs); d != nil {
			own = d.Policy
		}
		p := annotations.Merge(iface.Policy, own)
		annotations.Check(fset, p, &errs)
		fmt.Printf("%s: %s\n", m.Names[0].Name, p)
	}
	for _, e := range errs {
		fmt.Println(e)
	}
	// Output:
	// Gateway: name=payments retry=3 timeout=5s
	// Charge: name=payments retry=3 timeout=5s idempotency=orderID dlq=on
	// Balance: name=payments retry=off timeout=5s fallback=cachedBalance
	// Refund: name=payments retry=3 timeout=5s
	// shop.go:11:25: retry: 0 is out of range; want 1..100 or off
	// shop.go:11:31: dlq: "yes" is not valid; want on or off
}
