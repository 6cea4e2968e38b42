package call

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/calloperator"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// AddOperatorInput makes a user an operator of an OA (AddCallOperatorInput).
type AddOperatorInput struct {
	ChannelID gid.ID
	UserID    gid.ID
	Role      calloperator.Role
}

// Operators returns the OA's operators, first added first. A deactivated
// user is left out: they are no operator while inactive.
func (s *Service) Operators(ctx context.Context, channelID gid.ID) ([]*ent.CallOperator, error) {
	if _, err := requireViewer(ctx); err != nil {
		return nil, err
	}
	ch, err := zaloOA(ctx, s.client, channelID, "channelId")
	if err != nil {
		return nil, err
	}
	return s.client.CallOperator.Query().
		Where(calloperator.ChannelID(ch.ID), calloperator.HasUserWith(user.Active(true))).
		Order(calloperator.ByCreatedAt(), calloperator.ByID()).
		All(ctx)
}

// AddOperator adds an active user of the organization as an operator of
// the OA. Admins only. A sixth operator is FAILED_PRECONDITION with reason
// OPERATOR_LIMIT, a deactivated user USER_INACTIVE, and the same user
// twice CONFLICT.
//
// The channel's row is locked before the operators are counted, so two
// admins adding the fifth and sixth at the same moment are serialized:
// the second counts the first's insert.
func (s *Service) AddOperator(ctx context.Context, in AddOperatorInput) (*ent.CallOperator, error) {
	v, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := zaloOA(ctx, s.client, in.ChannelID, "input.channelId")
	if err != nil {
		return nil, err
	}
	u, err := s.client.User.Get(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, apierr.Precondition(ReasonUserInactive, "%s is deactivated; reactivate the account before making them an operator", u.Name)
	}
	if err := calloperator.RoleValidator(in.Role); err != nil {
		return nil, apierr.BadInput("input.role", "role must be ADMIN or CUSTOMER_CARE")
	}
	var out *ent.CallOperator
	err = s.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
		if err := lockChannel(sys, tx, ch.ID); err != nil {
			return err
		}
		current := tx.CallOperator.Query().Where(calloperator.ChannelID(ch.ID))
		if dup, err := current.Clone().Where(calloperator.UserID(u.ID)).Exist(sys); err != nil {
			return err
		} else if dup {
			return apierr.New(apierr.Conflict, "%s is already an operator of %s", u.Name, ch.Name)
		}
		n, err := current.Clone().Where(calloperator.HasUserWith(user.Active(true))).Count(sys)
		if err != nil {
			return err
		}
		if n >= MaxOperators {
			return apierr.Precondition(ReasonOperatorLimit, "%s already has %d call operators, the most an OA may have; remove one first", ch.Name, MaxOperators)
		}
		create := tx.CallOperator.Create().SetChannelID(ch.ID).SetUserID(u.ID).SetRole(in.Role)
		if v.IsUser() {
			create.SetAddedByID(v.UserID)
		}
		// Created as the admin, so the operator policy decides too.
		out, err = create.Save(viewer.NewContext(sys, v))
		if ent.IsConstraintError(err) {
			return apierr.Wrap(apierr.Conflict, err, u.Name+" is already an operator of "+ch.Name)
		}
		if err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Entry{
			Action: activity.CallOperatorAdded, ChannelID: ch.ID, SubjectID: out.ID,
			Details: map[string]any{"userId": u.ID, "userName": u.Name, "role": out.Role},
		})
	})
	if err != nil {
		return nil, err
	}
	// Its edges load outside the finished transaction.
	return out.Unwrap(), nil
}

// RemoveOperator removes an operator from their OA. Admins only.
func (s *Service) RemoveOperator(ctx context.Context, id gid.ID) error {
	v, err := requireAdmin(ctx)
	if err != nil {
		return err
	}
	op, err := s.client.CallOperator.Get(ctx, id)
	if err != nil {
		return err
	}
	return s.inTx(ctx, v.OrgID, func(sys context.Context, tx *ent.Tx) error {
		if err := lockChannel(sys, tx, op.ChannelID); err != nil {
			return err
		}
		if err := tx.CallOperator.DeleteOneID(op.ID).Exec(viewer.NewContext(sys, v)); err != nil {
			return err
		}
		u, err := tx.User.Get(sys, op.UserID)
		if err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Entry{
			Action: activity.CallOperatorRemoved, ChannelID: op.ChannelID, SubjectID: op.ID,
			Details: map[string]any{"userId": u.ID, "userName": u.Name, "role": op.Role},
		})
	})
}
