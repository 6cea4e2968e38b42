package graph

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// StringCursorVariables is a validation rule for clients written when the
// event streams' after argument was a String: a String variable used where
// a Cursor is expected is retyped Cursor, so `subscription($after: String)`
// keeps validating (the value is the same string either way). gqlparser
// runs rules in the order of their names, so its name puts it before
// VariablesInAllowedPosition, which would otherwise refuse the variable.
var StringCursorVariables = core.Rule{
	Name: "LegacyStringCursorVariables",
	RuleFunc: func(observers *core.Events, _ core.AddErrFunc) {
		observers.OnValue(func(w *core.Walker, v *ast.Value) {
			if v.Kind != ast.Variable || v.ExpectedType == nil || v.VariableDefinition == nil ||
				v.ExpectedType.NamedType != "Cursor" || v.VariableDefinition.Type.NamedType != "String" {
				return
			}
			def := v.VariableDefinition
			def.Type = &ast.Type{NamedType: "Cursor", NonNull: def.Type.NonNull, Position: def.Type.Position}
			def.Definition = w.Schema.Types["Cursor"]
		})
	},
}

// ValidationRules are the GraphQL validation rules: the specification's,
// and StringCursorVariables.
func ValidationRules() *rules.Rules {
	r := rules.NewDefaultRules()
	r.AddRule(StringCursorVariables.Name, StringCursorVariables.RuleFunc)
	return r
}
