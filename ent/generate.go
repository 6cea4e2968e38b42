// Package ent holds the generated ent client; the schema lives in
// ent/schema and entc.go configures generation.
package ent

//go:generate go run entc.go
