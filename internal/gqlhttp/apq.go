package gqlhttp

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
)

// PersistedQueries is gqlgen's automatic persisted queries (Apollo's
// protocol: a client sends a query's SHA-256 and, when told
// PERSISTED_QUERY_NOT_FOUND, the query with it) with every mistake a client
// can make coded. gqlgen codes only the unknown hash; a hash that does not
// match its query, an unsupported version or a malformed persistedQuery
// extension would otherwise be uncoded errors, which the presenter reports
// as INTERNAL and logs at ERROR. Here they are BAD_USER_INPUT naming
// "extensions.persistedQuery"; gqlgen's messages say what is wrong without
// repeating the input.
type PersistedQueries struct {
	extension.AutomaticPersistedQuery
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = PersistedQueries{}

// MutateOperationParameters looks the query up by its hash, or checks and
// stores it, as gqlgen does, and codes the errors gqlgen leaves uncoded.
func (p PersistedQueries) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	err := p.AutomaticPersistedQuery.MutateOperationParameters(ctx, params)
	if err == nil {
		return nil
	}
	if code, _ := err.Extensions["code"].(string); code != "" {
		return err
	}
	return apierr.BadInput("extensions.persistedQuery", "%s", err.Message).GraphQL()
}
