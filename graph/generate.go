package graph

// gqlgen runs from the module root, where gqlgen.yml and schema.graphqls
// are, through graph/gqlgen, which runs fields inline (see there).
//go:generate go -C .. run ./graph/gqlgen
