package tenancy

import (
	"testing"

	"github.com/dakenh/dakenh/internal/gid"
)

func TestEveryTypeHasACounter(t *testing.T) {
	for _, typ := range gid.Types() {
		if typ == "LoginAttempt" {
			continue // belongs to no tenant and is never linked to
		}
		if _, ok := counters[typ]; !ok {
			t.Errorf("type %s has no counter: links to it would not be checked", typ)
		}
	}
}
