// Command gen generates the visitor API's executor (graph/visitor) with
// gqlgen, from schema.graphqls and gqlgen.yml in the working directory. It
// runs from `go generate ./graph/visitor`.
package main

import (
	"fmt"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	cfg, err := config.LoadConfig("gqlgen.yml")
	if err == nil && cfg.Exec.Package != "visitor" {
		// Run from the module root, this would regenerate the staff
		// schema without graph/gqlgen's rewrites.
		err = fmt.Errorf("run from graph/visitor (go generate ./graph/visitor), not with %s's gqlgen.yml", cfg.Exec.Package)
	}
	if err == nil {
		err = api.Generate(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gqlgen:", err)
		os.Exit(1)
	}
}
