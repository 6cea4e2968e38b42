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
package main

import (
	"bytes"
	"fmt"
	"os"

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
	return inlineLists(cfg.Exec.Filename)
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

// inlineLists rewrites the executor's list marshalers to marshal elements
// in order. It fails if gqlgen's template changed, so that a gqlgen upgrade
// cannot silently bring the goroutines back.
func inlineLists(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := bytes.Count(src, sliceCall)
	if n == 0 {
		return fmt.Errorf("%s: no %q: gqlgen's list marshaler changed; update graph/gqlgen", path, sliceCall)
	}
	out := bytes.ReplaceAll(src, sliceCall, inlineCall)
	if bytes.Contains(out, []byte("MarshalSliceConcurrently")) {
		return fmt.Errorf("%s: a list marshaler this generator does not recognize calls MarshalSliceConcurrently; update graph/gqlgen", path)
	}
	return os.WriteFile(path, out, 0o644)
}
