package gqllimit

import "github.com/vektah/gqlparser/v2/ast"

// fragmentMemo measures each named fragment of a document once, however
// often it is spread, so that a small document spreading the same fragments
// many times (a cheap way to describe a huge tree) is measured in time
// linear in its size.
type fragmentMemo struct {
	defs map[string]*ast.FragmentDefinition
	memo map[string]int
	// visiting holds the fragments on the current spread chain. Validation
	// rejects fragment cycles, but the limits measure documents before (or
	// without) it and must not hang or overflow the stack on one.
	visiting map[string]bool
	// measured counts the fragments measured rather than found in memo, so
	// a test can tell that each was measured once.
	measured int
}

// newFragmentMemo returns a memo over the fragments defined in list.
func newFragmentMemo(list ast.FragmentDefinitionList) fragmentMemo {
	m := fragmentMemo{
		defs:     make(map[string]*ast.FragmentDefinition, len(list)),
		memo:     map[string]int{},
		visiting: map[string]bool{},
	}
	for _, f := range list {
		m.defs[f.Name] = f
	}
	return m
}

// of returns measure of the named fragment's selection set, computed once
// per name. A spread that closes a cycle, or names an unknown fragment,
// measures 0: validation rejects such documents.
func (m *fragmentMemo) of(name string, measure func(ast.SelectionSet) int) int {
	if n, ok := m.memo[name]; ok {
		return n
	}
	def, ok := m.defs[name]
	if !ok || m.visiting[name] {
		return 0
	}
	m.visiting[name] = true
	m.measured++
	n := measure(def.SelectionSet)
	delete(m.visiting, name)
	m.memo[name] = n
	return n
}
