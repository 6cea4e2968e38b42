package gqllimit

// The names of the server's limits, sent as extensions.limit on the
// BAD_USER_INPUT error of a request that exceeds one. They are part of the
// API (docs/api.md, "Limits"): clients switch on them, so never rename one.
const (
	// LimitTokens bounds the lexer tokens of a query (Document).
	LimitTokens = "tokens"
	// LimitFields bounds the fields an operation expands to (Document).
	LimitFields = "fields"
	// LimitAliases bounds the aliased fields of a document (Document).
	LimitAliases = "aliases"
	// LimitSpreads bounds the fragment spreads of a document (Document).
	LimitSpreads = "fragmentSpreads"
	// LimitDepth bounds how deeply selections nest (Depth).
	LimitDepth = "depth"
	// LimitPageSize bounds first and last (PageSize).
	LimitPageSize = "pageSize"
	// LimitComplexity bounds an operation's cost, pages multiplied
	// (Complexity).
	LimitComplexity = "complexity"
	// LimitListLength bounds the items of a list argument (Arguments).
	LimitListLength = "listLength"
	// LimitStringLength bounds the characters of a string argument
	// (Arguments).
	LimitStringLength = "stringLength"
	// LimitResponseBytes bounds the bytes of one operation's response
	// (Response).
	LimitResponseBytes = "responseBytes"
	// LimitBatch bounds the operations of one batched request; the HTTP
	// transport uses the same name.
	LimitBatch = "batch"
)
