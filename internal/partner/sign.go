package partner

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// The headers of every delivery.
const (
	// HeaderEvent carries the event type, "message.created".
	HeaderEvent = "X-Dakenh-Event"
	// HeaderDelivery carries the delivery's ID, the same on every retry and
	// redelivery: the partner's idempotency key.
	HeaderDelivery = "X-Dakenh-Delivery"
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>", with
	// one v1 per secret signing (two during a rotation).
	HeaderSignature = "X-Dakenh-Signature"
)

// Signature returns the HeaderSignature value of body sent at t: t= the
// Unix time in seconds, then for each secret v1= the hex HMAC-SHA256,
// keyed by the secret, of "<t>.<body>". Binding the time stops a captured
// delivery from being replayed later; the partner checks it is recent.
func Signature(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		mac := hmac.New(sha256.New, []byte(s))
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac.Sum(nil)))
	}
	return b.String()
}
