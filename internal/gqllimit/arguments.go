package gqllimit

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
)

// Arguments is a gqlgen handler extension that bounds an operation's
// arguments before any resolver runs: every list at most MaxList items,
// every string at most MaxString characters, and no string holding a NUL
// character, whether written in the query or passed in variables, at any
// depth of an input object or a JSON (Map) value. A list of 100,000 IDs or
// a 30 MB search string is refused at once instead of becoming a query the
// database works through; a NUL, which no text column stores (PostgreSQL
// refuses it outright), is the client's mistake, not an INTERNAL error.
//
// Lists and Strings give single arguments and input fields bounds of their
// own, keyed by schema coordinate: "Query.customers(search:)" for an
// argument, "CustomerWhereInput.nameIn" for an input field. A negative bound
// means none: the request body's limit bounds that value.
//
// A value over a bound answers BAD_USER_INPUT with extensions.field naming
// where it is (e.g. "where.nameIn" or "input.tags[3]") and extensions.limit
// "listLength" or "stringLength"; a NUL answers BAD_USER_INPUT with the
// field alone.
type Arguments struct {
	// MaxList is the default bound on a list's items; it must be positive.
	MaxList int
	// MaxString is the default bound on a string's characters; it must be
	// positive.
	MaxString int
	// Lists holds the list bounds that differ from MaxList.
	Lists map[string]int
	// Strings holds the string bounds that differ from MaxString.
	Strings map[string]int

	schema *ast.Schema
}

// Compile-time checks that Arguments hooks into gqlgen where intended.
var (
	_ graphql.HandlerExtension        = (*Arguments)(nil)
	_ graphql.OperationContextMutator = (*Arguments)(nil)
)

// ExtensionName returns the name gqlgen shows for this extension.
func (*Arguments) ExtensionName() string { return "ArgumentsLimit" }

// Validate keeps the schema, whose input types the check walks, and
// reports non-positive defaults and overrides naming nothing in it.
func (a *Arguments) Validate(es graphql.ExecutableSchema) error {
	if a.MaxList <= 0 || a.MaxString <= 0 {
		return fmt.Errorf("gqllimit: Arguments bounds must be positive, got MaxList %d, MaxString %d", a.MaxList, a.MaxString)
	}
	a.schema = es.Schema()
	for _, m := range []map[string]int{a.Lists, a.Strings} {
		for coord := range m {
			if !hasCoordinate(a.schema, coord) {
				return fmt.Errorf("gqllimit: Arguments bound for %q, which the schema does not have", coord)
			}
		}
	}
	return nil
}

// hasCoordinate reports whether the schema has the argument ("T.f(a:)") or
// input field ("T.f") named by coord.
func hasCoordinate(s *ast.Schema, coord string) bool {
	typeName, rest, ok := strings.Cut(coord, ".")
	def := s.Types[typeName]
	if !ok || def == nil {
		return false
	}
	field, arg, isArg := strings.Cut(strings.TrimSuffix(rest, ":)"), "(")
	fd := def.Fields.ForName(field)
	if fd == nil {
		return false
	}
	return !isArg || fd.Arguments.ForName(arg) != nil
}

// MutateOperationContext checks every argument of the operation, each
// fragment once, and refuses the operation at the first value out of
// bounds.
func (a *Arguments) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if opCtx == nil || opCtx.Operation == nil {
		return nil
	}
	w := argWalker{a: a, vars: opCtx.Variables, seen: map[string]bool{}, fragments: map[string]*ast.FragmentDefinition{}}
	if opCtx.Doc != nil {
		for _, f := range opCtx.Doc.Fragments {
			w.fragments[f.Name] = f
		}
	}
	if e := w.selectionSet(opCtx.Operation.SelectionSet); e != nil {
		return e.GraphQL()
	}
	return nil
}

// argWalker checks the arguments of an operation's fields.
type argWalker struct {
	a         *Arguments
	vars      map[string]any
	fragments map[string]*ast.FragmentDefinition
	seen      map[string]bool // fragments already checked
}

func (w *argWalker) selectionSet(set ast.SelectionSet) *apierr.Error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if e := w.field(s); e != nil {
				return e
			}
			if e := w.selectionSet(s.SelectionSet); e != nil {
				return e
			}
		case *ast.InlineFragment:
			if e := w.selectionSet(s.SelectionSet); e != nil {
				return e
			}
		case *ast.FragmentSpread:
			if def := w.fragments[s.Name]; def != nil && !w.seen[s.Name] {
				w.seen[s.Name] = true
				if e := w.selectionSet(def.SelectionSet); e != nil {
					return e
				}
			}
		}
	}
	return nil
}

// field checks the arguments of f.
func (w *argWalker) field(f *ast.Field) *apierr.Error {
	if f.Definition == nil || f.ObjectDefinition == nil {
		return nil
	}
	for _, arg := range f.Arguments {
		def := f.Definition.Arguments.ForName(arg.Name)
		if def == nil || arg.Value == nil {
			continue
		}
		v, err := arg.Value.Value(w.vars)
		if err != nil {
			continue // the field's own decoding reports it
		}
		coord := f.ObjectDefinition.Name + "." + f.Name + "(" + arg.Name + ":)"
		if e := w.value(v, def.Type, coord, arg.Name); e != nil {
			return e
		}
	}
	return nil
}

// value checks v, of type t, found at path; coord names the argument or
// input field v is the value of, for its bounds.
func (w *argWalker) value(v any, t *ast.Type, coord, path string) *apierr.Error {
	if v == nil {
		return nil
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return w.value(v, t.Elem, coord, path) // a single value coerced to a list
		}
		if e := w.list(len(list), coord, path); e != nil {
			return e
		}
		for i, item := range list {
			if e := w.value(item, t.Elem, coord, fmt.Sprintf("%s[%d]", path, i)); e != nil {
				return e
			}
		}
		return nil
	}
	if def := w.a.schema.Types[t.NamedType]; def != nil && def.Kind == ast.InputObject {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, fd := range def.Fields {
			if e := w.value(obj[fd.Name], fd.Type, def.Name+"."+fd.Name, path+"."+fd.Name); e != nil {
				return e
			}
		}
		return nil
	}
	return w.scalar(v, coord, path)
}

// scalar checks a scalar's value: a string, or the lists, objects and
// strings of a JSON value (the Map scalar), under coord's bounds.
func (w *argWalker) scalar(v any, coord, path string) *apierr.Error {
	switch s := v.(type) {
	case string:
		return w.str(s, coord, path)
	case []any:
		if e := w.list(len(s), coord, path); e != nil {
			return e
		}
		for i, item := range s {
			if e := w.scalar(item, coord, fmt.Sprintf("%s[%d]", path, i)); e != nil {
				return e
			}
		}
	case map[string]any:
		if e := w.list(len(s), coord, path); e != nil {
			return e
		}
		for k, item := range s {
			if e := w.str(k, coord, path); e != nil {
				return e
			}
			if e := w.scalar(item, coord, path+"."+k); e != nil {
				return e
			}
		}
	}
	return nil
}

// list checks a list's length against coord's bound.
func (w *argWalker) list(n int, coord, path string) *apierr.Error {
	limit := w.a.MaxList
	if b, ok := w.a.Lists[coord]; ok {
		limit = b
	}
	if limit >= 0 && n > limit {
		e := apierr.OverLimit(LimitListLength, "%s has %d items, more than the maximum of %d", path, n, limit)
		e.Field = path
		return e
	}
	return nil
}

// str checks a string's length against coord's bound, and that it holds
// no NUL.
func (w *argWalker) str(s, coord, path string) *apierr.Error {
	limit := w.a.MaxString
	if b, ok := w.a.Strings[coord]; ok {
		limit = b
	}
	// A string of at most limit bytes has at most limit characters: only
	// longer ones are counted.
	if limit >= 0 && len(s) > limit {
		if n := utf8.RuneCountInString(s); n > limit {
			e := apierr.OverLimit(LimitStringLength, "%s has %d characters, more than the maximum of %d", path, n, limit)
			e.Field = path
			return e
		}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return apierr.BadInput(path, "%s must not contain a NUL character (\\u0000)", path)
	}
	return nil
}
