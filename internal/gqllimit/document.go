package gqllimit

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/dakenh/dakenh/internal/apierr"
)

// Document is a gqlgen handler extension that bounds the size of a query
// document before gqlgen validates it. Validation is where small documents
// cost the most: fragments that spread each other expand exponentially, and
// comparing fields that share a response name is quadratic, so a 1 KB
// document could keep a core busy for minutes. Document parses the query
// with a token limit (parsing is linear) and counts, with each fragment
// measured once, the fields the document expands to, its aliases and its
// fragment spreads; a document over any bound answers BAD_USER_INPUT with
// extensions.limit naming it and is never validated.
type Document struct {
	// MaxTokens bounds the lexer tokens of the query.
	MaxTokens int
	// MaxFields bounds the fields of the operation once every fragment
	// spread is expanded where it is spread.
	MaxFields int
	// MaxAliases bounds the aliased fields written in the document.
	MaxAliases int
	// MaxSpreads bounds the fragment spreads written in the document.
	MaxSpreads int
	// Cache, when set, is gqlgen's query cache: a query it holds has passed
	// this check and validation before, and is not parsed again.
	Cache graphql.Cache[*ast.QueryDocument]
}

// Compile-time checks that Document hooks into gqlgen where intended.
var (
	_ graphql.HandlerExtension          = Document{}
	_ graphql.OperationParameterMutator = Document{}
)

// ExtensionName returns the name gqlgen shows for this extension.
func (Document) ExtensionName() string { return "DocumentLimit" }

// Validate reports a non-positive bound, which would reject every document.
func (d Document) Validate(graphql.ExecutableSchema) error {
	if d.MaxTokens <= 0 || d.MaxFields <= 0 || d.MaxAliases <= 0 || d.MaxSpreads <= 0 {
		return fmt.Errorf("gqllimit: Document bounds must be positive, got %+v", d)
	}
	return nil
}

// MutateOperationParameters measures the request's query and refuses it
// when it exceeds a bound. A query that does not parse is left to gqlgen,
// which reports the syntax error.
func (d Document) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if params.Query == "" {
		return nil
	}
	if d.Cache != nil {
		if _, ok := d.Cache.Get(ctx, params.Query); ok {
			return nil
		}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, d.MaxTokens)
	if err != nil {
		if gqlErr, ok := err.(*gqlerror.Error); ok && isTokenLimit(gqlErr) {
			return LimitError(LimitTokens, "query has more than %d tokens", d.MaxTokens)
		}
		return nil
	}
	c := docCounter{fragments: newFragmentMemo(doc.Fragments), max: d.MaxFields}
	for _, f := range doc.Fragments {
		c.written(f.SelectionSet)
	}
	for _, op := range doc.Operations {
		c.written(op.SelectionSet)
	}
	if c.aliases > d.MaxAliases {
		return LimitError(LimitAliases, "query has %d aliases, more than the maximum of %d", c.aliases, d.MaxAliases)
	}
	if c.spreads > d.MaxSpreads {
		return LimitError(LimitSpreads, "query has %d fragment spreads, more than the maximum of %d", c.spreads, d.MaxSpreads)
	}
	for _, op := range doc.Operations {
		if n := c.expanded(op.SelectionSet); n > d.MaxFields {
			return LimitError(LimitFields, "operation has more than %d fields once its fragments are expanded", d.MaxFields)
		}
	}
	return nil
}

// isTokenLimit reports whether err is the parser's token limit error.
func isTokenLimit(err *gqlerror.Error) bool {
	return strings.HasPrefix(err.Message, "exceeded token limit")
}

// LimitError returns the error of a request over one of the server's
// limits: apierr.OverLimit as the client sees it.
func LimitError(limit, format string, args ...any) *gqlerror.Error {
	return apierr.OverLimit(limit, format, args...).GraphQL()
}

// docCounter counts a document's written aliases and spreads, and the
// fields its operations expand to with each fragment's count memoised.
type docCounter struct {
	fragments fragmentMemo
	max       int
	aliases   int
	spreads   int
}

// written counts the aliases and spreads written in set.
func (c *docCounter) written(set ast.SelectionSet) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				c.aliases++
			}
			c.written(s.SelectionSet)
		case *ast.InlineFragment:
			c.written(s.SelectionSet)
		case *ast.FragmentSpread:
			c.spreads++
		}
	}
}

// expanded returns how many fields set expands to, saturating just above
// max so that counts of exponential documents never overflow.
func (c *docCounter) expanded(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + c.expanded(s.SelectionSet)
		case *ast.InlineFragment:
			n += c.expanded(s.SelectionSet)
		case *ast.FragmentSpread:
			n += c.fragments.of(s.Name, c.expanded)
		}
		if n > c.max {
			return c.max + 1
		}
	}
	return n
}
