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
	// about 8,000; two nested connections of 100 cost over 30,000.
	maxComplexity = 10_000
	// maxPageSize is the largest first/last, and the page of a connection
	// asked with neither.
	maxPageSize = 100
	// maxListItems bounds every list argument (nodes(ids:) included) and
	// maxStringChars every string argument, where listBounds and
	// stringBounds say nothing else (gqllimit.Arguments).
	maxListItems   = 100
	maxStringChars = 10_000
	// maxBatch bounds the operations of one batched POST (an array body,
	// as Apollo's BatchHttpLink sends); each is within all of the above.
	maxBatch = 20
	// maxResponseBytes bounds one operation's response, counted as its
	// fields resolve (gqllimit.Response): far above a page of 100
	// customers (about 100 KB), far below what would strain memory.
	maxResponseBytes = 16 << 20
)

// listBounds and stringBounds are the arguments and input fields whose
// bounds differ from maxListItems and maxStringChars, by schema coordinate;
// -1 leaves the value to the request body's limit.
var (
	listBounds = map[string]int{}

	stringBounds = map[string]int{
		"Query.customers(search:)":       200,
		"Query.conversations(search:)":   200,
		"Query.exportCustomers(search:)": 200,
		// A whole file; customer.MaxImportBytes and the body limit bound it.
		"Mutation.importCustomers(csv:)": -1,
	}
)
