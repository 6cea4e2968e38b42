// Package visitor is the LiveTalk visitor API's GraphQL layer: its own
// small schema (schema.graphqls), executor and resolvers over
// internal/livetalk. Nothing of the staff schema (graph) is reachable
// through it.
package visitor

//go:generate go run ./gen
