package gqllimit

import (
	"context"
	"fmt"
	"math"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Complexity is a gqlgen handler extension that refuses, before any
// resolver runs, an operation that costs more than Max. gqlgen's own limit
// counts fields, so three nested connections of 100 (a 183-byte query)
// cost 12 and returned a million rows; here pages multiply.
//
// The cost model, the one place that defines it (docs/api.md, "Limits"):
//
//   - a field costs 1 plus the cost of its selections;
//   - a field that takes first/last (a connection) costs 1 plus n times the
//     cost of its selections, n being first, else last, else DefaultPage
//     (the page size a connection asked without either returns): its
//     selections, pageInfo and totalCount included, are priced per item;
//   - a list field that takes a list argument (nodes(ids:)) costs 1 plus
//     the list's length times the cost of its selections;
//   - a field with its own function in the generated ComplexityRoot costs
//     what that function says; introspection costs nothing.
//
// It walks the operation with gqlgen's complexity.Calculate, whose per-field
// hook is the schema's Complexity method: Complexity wraps the schema so
// that hook prices every field by the model above.
type Complexity struct {
	// Max is the greatest cost an operation may have; it must be positive.
	Max int
	// DefaultPage is the page size of a connection asked with neither first
	// nor last; it must be positive.
	DefaultPage int

	schema graphql.ExecutableSchema
}

// Compile-time checks that Complexity hooks into gqlgen where intended.
var (
	_ graphql.HandlerExtension        = (*Complexity)(nil)
	_ graphql.OperationContextMutator = (*Complexity)(nil)
)

// ExtensionName returns the name gqlgen shows for this extension.
func (*Complexity) ExtensionName() string { return "ComplexityLimit" }

// Validate keeps the schema the cost is computed against and reports
// non-positive bounds.
func (c *Complexity) Validate(schema graphql.ExecutableSchema) error {
	if c.Max <= 0 || c.DefaultPage <= 0 {
		return fmt.Errorf("gqllimit: Complexity bounds must be positive, got Max %d, DefaultPage %d", c.Max, c.DefaultPage)
	}
	c.schema = schema
	return nil
}

// MutateOperationContext prices the operation and refuses it past Max with
// BAD_USER_INPUT, extensions.limit "complexity".
func (c *Complexity) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if opCtx == nil || opCtx.Operation == nil {
		return nil
	}
	cost := c.Cost(ctx, opCtx.Operation, opCtx.Variables)
	if cost <= c.Max {
		return nil
	}
	return LimitError(LimitComplexity, "operation costs %d, more than the maximum of %d: a connection's selections count once per item of its page", cost, c.Max)
}

// Cost returns the cost of op with the given variables under the model
// above. Validate must have run.
func (c *Complexity) Cost(ctx context.Context, op *ast.OperationDefinition, vars map[string]any) int {
	return complexity.Calculate(ctx, pricedSchema{c.schema, c.DefaultPage}, op, vars)
}

// pricedSchema is an executable schema whose Complexity applies the cost
// model to every field the generated ComplexityRoot leaves unpriced.
type pricedSchema struct {
	graphql.ExecutableSchema
	defaultPage int
}

// Complexity returns the cost of one field given the cost of its
// selections (child) and its arguments.
func (p pricedSchema) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if n, ok := p.ExecutableSchema.Complexity(ctx, typeName, field, child, args); ok && n >= 1 {
		return n, true
	}
	def := p.Schema().Types[typeName]
	if def == nil {
		return 0, false
	}
	fd := def.Fields.ForName(field)
	if fd == nil {
		return 0, false
	}
	items, ok := p.items(fd, args)
	if !ok {
		return 0, false
	}
	n := mulSat(items, child)
	if n < math.MaxInt {
		n++
	}
	return n, true
}

// items returns how many items field fd returns with these arguments,
// when it is a connection or a list sized by a list argument.
func (p pricedSchema) items(fd *ast.FieldDefinition, args map[string]any) (int, bool) {
	takesPage := false
	for _, name := range pageArgs {
		if fd.Arguments.ForName(name) == nil {
			continue
		}
		takesPage = true
		if n, ok := intArg(args[name]); ok {
			return int(max(0, min(n, math.MaxInt32))), true
		}
	}
	if takesPage {
		return p.defaultPage, true
	}
	if fd.Type.Elem == nil {
		return 0, false
	}
	for _, a := range fd.Arguments {
		if a.Type.Elem == nil {
			continue
		}
		if list, ok := args[a.Name].([]any); ok {
			return len(list), true
		}
	}
	return 0, false
}

// mulSat returns a×b, saturating at the largest int instead of
// overflowing, so an absurd nesting cannot wrap around to a small cost.
func mulSat(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}
