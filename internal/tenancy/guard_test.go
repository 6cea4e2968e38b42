package tenancy

import (
	"testing"

	"github.com/dakenh/dakenh/internal/gid"
)

func TestEveryTypeHasACounter(t *testing.T) {
	for _, typ := range gid.Types() {
		if unlinkable[typ] {
			continue
		}
		if _, ok := counters[typ]; !ok {
			t.Errorf("type %s has no counter: links to it would not be checked", typ)
		}
	}
}
