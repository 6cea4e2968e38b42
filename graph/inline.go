package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSliceInline marshals the n elements of a list in order on the
// caller's goroutine; the generated executor calls it instead of gqlgen's
// graphql.MarshalSliceConcurrently (see graph/gqlgen). Like that function it
// gives each element its field context (for error paths) and turns a panic
// into the element's error and a null list.
func marshalSliceInline(ctx context.Context, n int, marshal func(context.Context, int) graphql.Marshaler) graphql.Array {
	ret := make(graphql.Array, n)
	// The elements' field contexts and indexes, allocated at once.
	fcs := make([]graphql.FieldContext, n)
	index := make([]int, n)
	for i := range n {
		index[i] = i
		fcs[i].Index = &index[i]
		if !marshalElement(graphql.WithFieldContext(ctx, &fcs[i]), i, ret, marshal) {
			return nil
		}
	}
	return ret
}

// marshalElement marshals element i into ret, reporting false if it
// panicked.
func marshalElement(ctx context.Context, i int, ret graphql.Array, marshal func(context.Context, int) graphql.Marshaler) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			ok = false
		}
	}()
	ret[i] = marshal(ctx, i)
	return true
}
