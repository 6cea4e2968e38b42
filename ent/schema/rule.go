package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/privacy"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/dakenh/dakenh/ent/schema/schematype"
	"github.com/dakenh/dakenh/internal/policy"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Rule is a distribution rule ("quy tắc chia hội thoại", README.md, "Distribution"): the
// conversations of its channels go to its agents by its method. A channel
// belongs to at most one rule.
type Rule struct{ ent.Schema }

// Mixin returns the rule's mixins.
func (Rule) Mixin() []ent.Mixin {
	return []ent.Mixin{idMixin("Rule"), TimeMixin{}, TenantMixin{}}
}

// Fields returns the rule's fields.
func (Rule) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("method").GoType(schematype.DistributionMethod("")).
			Annotations(entgql.Type("DistributionMethod")),
		field.Int("offer_timeout_seconds").Range(5, 3600).Default(30),
		// old_conversations says what happens to the conversations a
		// channel already has when it joins the rule, and to those of an
		// agent who leaves it.
		field.Enum("old_conversations").Values("KEEP", "UNASSIGNED", "ALL").Default("KEEP").
			Annotations(entgql.Type("OldConversationPolicy")),
		// turn is the list position of the agent round robin gave the last
		// conversation; the next goes to the next ONLINE agent after it.
		// It lives here, not in a replica's memory, so every replica takes
		// turns from the same place.
		field.Int("turn").Default(-1).Annotations(entgql.Skip()),
	}
}

// Edges returns the rule's edges.
func (Rule) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("channels", Channel.Type).Ref("rule"),
		edge.From("members", Member.Type).Ref("rule").Annotations(entgql.Skip()),
		edge.From("conversations", Conversation.Type).Ref("rule").Annotations(entgql.Skip()),
	}
}

// Indexes returns the rule's indexes.
func (Rule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("organization_id", "name").Unique()}
}

// Annotations configures GraphQL generation.
func (Rule) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField("rules"),
	}
}

// Policy lets every member see the rules and only OWNERs and ADMINs
// configure them.
func (Rule) Policy() ent.Policy { return adminConfigured() }

// adminConfigured is the policy of configuration every member may read and
// only OWNERs and ADMINs may change.
func adminConfigured() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{policy.AllowQuery()},
		Mutation: privacy.MutationPolicy{
			policy.AllowMutationIf(func(v *viewer.Viewer, _ ent.Mutation) bool { return v.IsAdmin() }),
			policy.AlwaysDeny(),
		},
	}
}
