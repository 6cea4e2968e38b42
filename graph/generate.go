package graph

// gqlgen runs from the module root, where gqlgen.yml and schema.graphqls are.
//go:generate go tool -C .. gqlgen generate
