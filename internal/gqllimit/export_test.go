package gqllimit

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// InterceptField runs p's check of one field, as the operations that need
// it run it.
func InterceptField(p PageSize, ctx context.Context, next graphql.Resolver) (any, error) {
	return p.interceptField(ctx, next)
}
