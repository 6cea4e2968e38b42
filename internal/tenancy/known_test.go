package tenancy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/internal/dbtest"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/tenancy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// TestWithKnown: a link to a row WithKnown vouches for is not counted
// again, but only under the organization it was vouched in; a link to
// another organization's row is still refused.
func TestWithKnown(t *testing.T) {
	db, counter := dbtest.OpenCounting(t)
	tenancy.Guard(db.Client)
	sysAll := viewer.SystemContext(context.Background(), "")
	chanOf := func(name string) (gid.ID, *ent.Channel) {
		org := db.Client.Organization.Create().SetName(name).SaveX(sysAll)
		sys := viewer.SystemContext(context.Background(), org.ID)
		u := db.Client.User.Create().SetName("Chủ " + name).SetEmail(string(gid.New("User")) + "@example.vn").
			SetPasswordHash("x").SetRole(viewer.RoleOwner).SaveX(sys)
		ch := db.Client.Channel.Create().SetKind(channel.KindZALO_OA).SetExternalID(string(gid.New("Channel"))).
			SetName("OA " + name).SetChatPermission(channel.ChatPermissionSHARED).
			SetConnectedByID(u.ID).SetLastConnectedAt(time.Now()).SaveX(sys)
		return org.ID, ch
	}
	orgA, chA := chanOf("A")
	orgB, chB := chanOf("B")
	create := func(ctx context.Context, ch *ent.Channel) error {
		_, err := db.Client.Customer.Create().SetName("Khách").SetSourceChannelID(ch.ID).Save(ctx)
		return err
	}
	inA := viewer.SystemContext(context.Background(), orgA)

	counter.Reset()
	if err := create(inA, chA); err != nil {
		t.Fatal(err)
	}
	checked := counter.Count()
	counter.Reset()
	if err := create(tenancy.WithKnown(inA, chA.ID), chA); err != nil {
		t.Fatal(err)
	}
	if got := counter.Count(); got != checked-1 {
		t.Errorf("a link to a known row: %d statements, want %d (one count fewer than %d)", got, checked-1, checked)
	}

	var nf *tenancy.NotFoundError
	if err := create(inA, chB); !errors.As(err, &nf) {
		t.Errorf("a link to another organization's channel: %v, want NotFoundError", err)
	}
	// Vouched for in B, the channel is not known in A.
	inBKnown := tenancy.WithKnown(viewer.SystemContext(context.Background(), orgB), chB.ID)
	if err := create(viewer.SystemContext(inBKnown, orgA), chB); !errors.As(err, &nf) {
		t.Errorf("a row known in another organization: %v, want NotFoundError", err)
	}
}
