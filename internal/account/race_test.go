package account_test

import (
	"sync"
	"testing"

	"github.com/dakenh/dakenh/internal/apierr"
)

// TestOwnersRemovingEachOtherConcurrently has two OWNERs deactivate or demote
// each other at the same moment: exactly one may win, so the organization
// always keeps an active OWNER.
func TestOwnersRemovingEachOtherConcurrently(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   op
	}{
		{"Deactivate", deactivate},
		{"Demote", setRole("AGENT")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 5; round++ {
				e := newEnv(t)
				s := e.staff(t, true)
				a, b := s.users["owner"], s.users["owner2"]
				ctxA, _ := e.login(t, a)
				ctxB, _ := e.login(t, b)
				var wg sync.WaitGroup
				errs := make([]error, 2)
				wg.Add(2)
				go func() { defer wg.Done(); _, errs[0] = e.apply(ctxA, b.ID, tc.op) }()
				go func() { defer wg.Done(); _, errs[1] = e.apply(ctxB, a.ID, tc.op) }()
				wg.Wait()
				wins, lastOwner := 0, 0
				for _, err := range errs {
					switch {
					case err == nil:
						wins++
					case apierr.CodeOf(err) == apierr.FailedPrecondition:
						lastOwner++
					default:
						t.Fatalf("round %d: unexpected error %v", round, err)
					}
				}
				if wins != 1 || lastOwner != 1 {
					t.Fatalf("round %d: %d won, %d refused; want exactly one of each", round, wins, lastOwner)
				}
			}
		})
	}
}
