package distribute

import (
	"context"
	"fmt"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/predicate"
	"github.com/dakenh/dakenh/ent/rule"
	"github.com/dakenh/dakenh/internal/gid"
)

// SharedWith returns the predicate, on channels, of the SHARED channels
// whose pool (channelPool: its rule, or the default department for a Zalo
// or Facebook channel in no rule) has the user among its members: the
// channels "shared with" them ("Được chia sẻ với tôi").
func SharedWith(ctx context.Context, client *ent.Client, userID gid.ID) (predicate.Channel, error) {
	inRule := channel.HasRuleWith(rule.HasMembersWith(member.UserID(userID)))
	inDefault, err := client.Member.Query().
		Where(member.UserID(userID), member.HasDepartmentWith(department.IsDefault(true))).
		Exist(ctx)
	if err != nil {
		return nil, fmt.Errorf("distribute: reading the default department's members: %w", err)
	}
	pool := inRule
	if inDefault {
		pool = channel.Or(inRule, channel.And(
			channel.RuleIDIsNil(),
			channel.KindIn(channel.KindZALO_OA, channel.KindFACEBOOK_PAGE),
		))
	}
	return channel.And(channel.ChatPermissionEQ(channel.ChatPermissionSHARED), pool), nil
}
