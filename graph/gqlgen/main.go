// Command gqlgen generates the GraphQL executor (graph/generated.go) with
// gqlgen and one change to how it executes: fields resolve on their
// parent's goroutine. It runs from `go generate ./graph`.
//
// gqlgen runs a field in a goroutine of its own whenever it has a resolver
// or its Go method takes a context, and every element of a list in a
// goroutine of its own. ent's edge methods take a context (they load the
// edge when it was not eager-loaded), so an inbox page of 50 conversations
// started about 300 goroutines to copy data that entgql had already loaded
// in a handful of queries: goroutine creation, stack growth and scheduling
// cost more than the fields themselves. Here only the root fields of an
// operation run concurrently; an object's fields and a list's elements run
// in order, on one goroutine. A field that does query (an N+1 resolver
// such as Conversation.offeredTo) then queries once per element in turn
// instead of at once, which on a pool of a few connections and a couple
// of cores costs little, and is what eager loading avoids anyway.
//
// It also points every field at graph's resolveField and every scalar
// field's context at scalarFieldContext (graph/resolvefield.go), gqlgen's
// own with fewer allocations per field.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	if err := generate(); err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(1)
	}
}

func generate() error {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		return err
	}
	if err := api.Generate(cfg, api.AddPlugin(inline{})); err != nil {
		return err
	}
	return rewrite(cfg.Exec.Filename)
}

// inline is the gqlgen plugin that runs the fields of every non-root
// object on their parent's goroutine.
type inline struct{}

func (inline) Name() string { return "inline" }

// GenerateCode runs before gqlgen renders the executor from the same data.
func (inline) GenerateCode(data *codegen.Data) error {
	for _, o := range data.Objects {
		if !o.Root {
			o.DisableConcurrency = true
		}
	}
	return nil
}

// sliceCall is how gqlgen's template marshals the elements of a list: one
// goroutine per element (graphql.MarshalSliceConcurrently, with no worker
// limit and its panic handler), and what replaces it (graph/inline.go).
var (
	sliceCall  = []byte("graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, ")
	inlineCall = []byte("marshalSliceInline(ctx, len(v), ")
)

// rewrite rewrites the executor's list marshalers to marshal elements in
// order, and its fields to resolve through graph's helpers. It fails if
// gqlgen's template changed, so that a gqlgen upgrade cannot silently
// bring the goroutines back or drop the helpers.
func rewrite(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if src, err = inlineLists(path, src); err != nil {
		return err
	}
	if src, err = resolveFields(path, src); err != nil {
		return err
	}
	if src, err = plainFields(path, src); err != nil {
		return err
	}
	if src, err = format.Source(src); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, src, 0o644)
}

// inlineLists replaces gqlgen's list marshaler.
func inlineLists(path string, src []byte) ([]byte, error) {
	n := bytes.Count(src, sliceCall)
	if n == 0 {
		return nil, fmt.Errorf("%s: no %q: gqlgen's list marshaler changed; update graph/gqlgen", path, sliceCall)
	}
	out := bytes.ReplaceAll(src, sliceCall, inlineCall)
	if bytes.Contains(out, []byte("MarshalSliceConcurrently")) {
		return nil, fmt.Errorf("%s: a list marshaler this generator does not recognize calls MarshalSliceConcurrently; update graph/gqlgen", path)
	}
	return out, nil
}

var (
	resolveCall = []byte("graphql.ResolveField(")
	// scalarContext is how gqlgen's template builds a scalar field's
	// context; the error it makes per call becomes a Child made once per
	// scalar type.
	scalarContext = regexp.MustCompile(`graphql\.NewScalarFieldContext\((.*), errors\.New\("field of type (\w+) does not have child fields"\)\)`)
)

// resolveFields points fields at graph's resolveField and scalar field
// contexts at scalarFieldContext, with one Child per scalar type declared
// at the end of the file.
func resolveFields(path string, src []byte) ([]byte, error) {
	if !bytes.Contains(src, resolveCall) {
		return nil, fmt.Errorf("%s: no %q: gqlgen's field resolution changed; update graph/gqlgen", path, resolveCall)
	}
	out := bytes.ReplaceAll(src, resolveCall, []byte("resolveField("))
	var types []string
	out = scalarContext.ReplaceAllFunc(out, func(m []byte) []byte {
		sub := scalarContext.FindSubmatch(m)
		if typ := string(sub[2]); !slices.Contains(types, typ) {
			types = append(types, typ)
		}
		return fmt.Appendf(nil, "scalarFieldContext(%s, noChildFields%s)", sub[1], sub[2])
	})
	if len(types) == 0 || bytes.Contains(out, []byte("graphql.NewScalarFieldContext(")) {
		return nil, fmt.Errorf("%s: a scalar field context this generator does not recognize; update graph/gqlgen", path)
	}
	slices.Sort(types)
	out = append(out, "\n// The Child of the scalar fields of each type (graph/gqlgen).\nvar (\n"...)
	for _, typ := range types {
		out = fmt.Appendf(out, "\tnoChildFields%s = noChildFields(%q)\n", typ, typ)
	}
	return append(out, ")\n"...), nil
}

var (
	// plainContext is the context of a scalar field that is neither a
	// method nor a resolver, after resolveFields.
	plainContext = regexp.MustCompile(`func \(ec \*executionContext\) (fieldContext_\w+)\(_ context\.Context, field graphql\.CollectedField\) \(fc \*graphql\.FieldContext, err error\) \{\n\treturn scalarFieldContext\("\w+", field, false, false, \w+\)\n\}`)
	// plainCall is how gqlgen's template resolves a field that reads its
	// object's struct field, with no directive.
	plainCall = regexp.MustCompile(`resolveField\(\n\t\tctx,\n\t\tec\.OperationContext,\n\t\tfield,\n` +
		`(\t\tfunc\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{\n\t\t\treturn ec\.(fieldContext_\w+)\(ctx, field\)\n\t\t\},\n)` +
		`\t\tfunc\(ctx context\.Context\) \(any, error\) \{\n\t\t\treturn (obj\.\w+), nil\n\t\t\},\n\t\tnil,\n` +
		`(\t\tfunc\(ctx context\.Context, selections ast\.SelectionSet, v [^\n]*\) graphql\.Marshaler \{\n\t\t\treturn ec\.(marshal[^(]+)\(ctx, selections, v\)\n\t\t\},\n)`)
)

// plainFields points the scalar fields that read a struct field at
// resolvePlainField, except lists (their elements' paths need the field's
// context) and non-null pointers (a nil one is an error on the field's
// path).
func plainFields(path string, src []byte) ([]byte, error) {
	plain := map[string]bool{}
	for _, m := range plainContext.FindAllSubmatch(src, -1) {
		plain[string(m[1])] = true
	}
	n := 0
	out := plainCall.ReplaceAllFunc(src, func(m []byte) []byte {
		sub := plainCall.FindSubmatch(m)
		marshal := string(sub[5])
		if !plain[string(sub[2])] || strings.Contains(marshal, "ᚕ") || strings.HasPrefix(marshal, "marshalN") && strings.Contains(marshal, "ᚖ") {
			return m
		}
		n++
		return fmt.Appendf(nil, "resolvePlainField(\n\t\tctx,\n\t\tec.OperationContext,\n\t\tfield,\n%s\t\t%s,\n%s", sub[1], sub[3], sub[4])
	})
	if n == 0 {
		return nil, fmt.Errorf("%s: no plain scalar field recognized: gqlgen's field resolution changed; update graph/gqlgen", path)
	}
	return out, nil
}
