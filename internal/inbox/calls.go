package inbox

import (
	"context"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/zalo"
)

// Calls applies the voice-call webhooks of Zalo OAs inside the inbox's
// processing transaction, so what they change commits with the event's
// processing or not at all, and a retried event is applied again from
// scratch. internal/call implements it.
type Calls interface {
	// ApplyConsent applies oa_send_consent and user_reply_consent of OA
	// ch, which Zalo reported at (never later than now).
	ApplyConsent(ctx context.Context, tx *ent.Tx, ch *ent.Channel, e *zalo.Event, at time.Time) error
}

// HandleCalls makes c apply the call webhooks. Call it once at start-up,
// before the inbox processes webhooks.
func (s *Service) HandleCalls(c Calls) { s.calls = c }
