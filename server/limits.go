package main

// The API's limits, all in one place; the README's "Limits" section and
// docs/api.md list them for clients. Each is refused with BAD_USER_INPUT,
// extensions.limit naming it (gqllimit's Limit* names), before the work it
// bounds is done.
const (
	// Bounds checked before validation (gqllimit.Document), far above the
	// documents the playground and the web client send.
	maxTokens  = 20000
	maxFields  = 2000
	maxAliases = 200
	maxSpreads = 500
	// maxDepth allows the playground's introspection query (13).
	maxDepth = 15
	// maxComplexity bounds an operation's cost, where a connection's
	// selections count once per item of its page (gqllimit.Complexity): an
	// inbox page of 50 conversations with their last 20 messages costs
	// about 8,500; two nested connections of 100 cost over 40,000.
	maxComplexity = 10_000
	// maxPageSize is the largest first/last, and the page of a connection
	// asked with neither.
	maxPageSize = 100
)
