package distribute

import (
	"context"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/conversation"
	"github.com/dakenh/dakenh/ent/department"
	"github.com/dakenh/dakenh/ent/member"
	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
)

// departmentMethods are a department's modes in the product: one at a
// time, all at once, or at random.
var departmentMethods = []schematype.DistributionMethod{schematype.Sequential, schematype.Broadcast, schematype.Random}

// DepartmentInput is what createDepartment takes.
type DepartmentInput struct {
	Name                string
	AgentIDs            []gid.ID
	Method              schematype.DistributionMethod
	OfferTimeoutSeconds *int
	IsDefault           *bool
}

// DepartmentUpdate is what updateDepartment takes: nil fields keep their
// value, and agentIds given replaces the list.
type DepartmentUpdate struct {
	Name                *string
	AgentIDs            []gid.ID
	Method              *schematype.DistributionMethod
	OfferTimeoutSeconds *int
	IsDefault           *bool
}

// CreateDepartment creates a receiving department (OWNERs and ADMINs).
// Making it the default takes that role from the previous default.
func (e *Engine) CreateDepartment(ctx context.Context, in DepartmentInput) (*ent.Department, error) {
	v, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	name, err := checkName(in.Name)
	if err != nil {
		return nil, err
	}
	for _, err := range []error{checkMethod(&in.Method, departmentMethods...), checkTimeout(in.OfferTimeoutSeconds)} {
		if err != nil {
			return nil, err
		}
	}
	var out *ent.Department
	err = e.inTx(ctx, v.OrgID, func(s *step) error {
		agents, err := loadAgents(ctx, s.tx, in.AgentIDs)
		if err != nil {
			return err
		}
		if err := s.takeDefault(ctx, in.IsDefault, ""); err != nil {
			return err
		}
		create := s.tx.Department.Create().SetName(name).SetMethod(in.Method).SetIsDefault(in.IsDefault != nil && *in.IsDefault)
		if in.OfferTimeoutSeconds != nil {
			create.SetOfferTimeoutSeconds(*in.OfferTimeoutSeconds)
		}
		d, err := create.Save(ctx)
		if ent.IsConstraintError(err) {
			return apierr.New(apierr.Conflict, "a department named %q already exists, or another became the default meanwhile", name)
		}
		if err != nil {
			return err
		}
		out = d
		if _, err = setMembers(ctx, s.tx, member.DepartmentID(d.ID), func(m *ent.MemberCreate) { m.SetDepartmentID(d.ID) }, agents); err != nil {
			return err
		}
		state, err := s.departmentState(d.ID)
		if err != nil {
			return err
		}
		return s.record(ctx, activity.DepartmentCreated, d.ID, state)
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// takeDefault clears the default flag of the other departments when a
// department is to become the default; the one that loses it has its own
// activity entry.
func (s *step) takeDefault(ctx context.Context, isDefault *bool, except gid.ID) error {
	if isDefault == nil || !*isDefault {
		return nil
	}
	losing, err := s.tx.Department.Query().
		Where(department.IsDefault(true), department.IDNEQ(except)).
		All(ctx)
	if err != nil || len(losing) == 0 {
		return err
	}
	if err := s.tx.Department.Update().
		Where(department.IsDefault(true), department.IDNEQ(except)).
		SetIsDefault(false).
		Exec(ctx); err != nil {
		return err
	}
	for _, d := range losing {
		err := s.record(ctx, activity.DepartmentUpdated, d.ID, map[string]any{
			"name":    d.Name,
			"changes": activity.Changes(map[string]any{"isDefault": true}, map[string]any{"isDefault": false}),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// UpdateDepartment changes a department (OWNERs and ADMINs). Agents who
// leave hand on their pending offers and keep the conversations they have;
// waiting conversations are offered to agents who join.
func (e *Engine) UpdateDepartment(ctx context.Context, id gid.ID, in DepartmentUpdate) (*ent.Department, error) {
	v, err := admin(ctx)
	if err != nil {
		return nil, err
	}
	var name string
	if in.Name != nil {
		if name, err = checkName(*in.Name); err != nil {
			return nil, err
		}
	}
	for _, err := range []error{checkMethod(in.Method, departmentMethods...), checkTimeout(in.OfferTimeoutSeconds)} {
		if err != nil {
			return nil, err
		}
	}
	var out *ent.Department
	err = e.inTx(ctx, v.OrgID, func(s *step) (err error) {
		q := s.tx.Department.Query().Where(department.ID(id)).Unique(false)
		q.Modify(database.LockRows())
		if _, err := q.Only(ctx); ent.IsNotFound(err) {
			return apierr.New(apierr.NotFound, "department not found")
		} else if err != nil {
			return err
		}
		recorded, err := s.recordUpdate(ctx, activity.DepartmentUpdated, id, s.departmentState)
		if err != nil {
			return err
		}
		defer recorded(&err)
		if err := s.takeDefault(ctx, in.IsDefault, id); err != nil {
			return err
		}
		upd := s.tx.Department.UpdateOneID(id)
		if in.Name != nil {
			upd.SetName(name)
		}
		if in.Method != nil {
			upd.SetMethod(*in.Method)
		}
		if in.OfferTimeoutSeconds != nil {
			upd.SetOfferTimeoutSeconds(*in.OfferTimeoutSeconds)
		}
		if in.IsDefault != nil {
			upd.SetIsDefault(*in.IsDefault)
		}
		d, err := upd.Save(ctx)
		if ent.IsConstraintError(err) {
			return apierr.New(apierr.Conflict, "a department named %q already exists, or another became the default meanwhile", name)
		}
		if err != nil {
			return err
		}
		out = d
		if in.AgentIDs == nil {
			return nil
		}
		agents, err := loadAgents(ctx, s.tx, in.AgentIDs)
		if err != nil {
			return err
		}
		left, err := setMembers(ctx, s.tx, member.DepartmentID(id), func(m *ent.MemberCreate) { m.SetDepartmentID(id) }, agents)
		if err != nil {
			return err
		}
		p, err := s.departmentPool(id)
		if err != nil {
			return err
		}
		for _, u := range left {
			if err := s.agentLeft(p, u); err != nil {
				return err
			}
		}
		if err := s.visibilityChanged(p); err != nil {
			return err
		}
		return s.drainWaiting(p)
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// DeleteDepartment deletes a department (OWNERs and ADMINs): its open
// conversations leave distribution (the unassigned ones become open to
// every member) and the resolved ones forget it.
func (e *Engine) DeleteDepartment(ctx context.Context, id gid.ID) error {
	v, err := admin(ctx)
	if err != nil {
		return err
	}
	return e.inTx(ctx, v.OrgID, func(s *step) error {
		if _, err := s.tx.Department.Get(ctx, id); ent.IsNotFound(err) {
			return apierr.New(apierr.NotFound, "department not found")
		} else if err != nil {
			return err
		}
		before, err := s.departmentState(id)
		if err != nil {
			return err
		}
		if err := s.record(ctx, activity.DepartmentDeleted, id, before); err != nil {
			return err
		}
		if err := s.release(conversation.DepartmentID(id)); err != nil {
			return err
		}
		if err := s.forget(conversation.DepartmentID(id)); err != nil {
			return err
		}
		if err := deleteMembers(ctx, s.tx, member.DepartmentID(id)); err != nil {
			return err
		}
		return s.tx.Department.DeleteOneID(id).Exec(ctx)
	})
}
