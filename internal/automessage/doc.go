// Package automessage is the auto-messages of product.md §5: the messages a
// channel sends customers on its own. It holds their configuration (Create,
// Update; the rules each kind obeys are ent hooks in ent/schema, so every
// writer is held to them).
package automessage
