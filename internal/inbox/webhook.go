package inbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/channel"
	"github.com/dakenh/dakenh/ent/webhookevent"
	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/viewer"
	"github.com/dakenh/dakenh/internal/zalo"
)

// The errors of the Receive methods. The webhook answers 400 to
// ErrWebhookInvalid and 401 to ErrWebhookUnauthenticated (403 to the
// latter for Facebook's subscription handshake); in both cases nothing is
// stored. Any other error is the server's own failure.
var (
	// ErrWebhookInvalid means the body is not an event of the provider.
	ErrWebhookInvalid = errors.New("inbox: invalid webhook")
	// ErrWebhookUnauthenticated means the event names no channel of ours or
	// its signature does not verify with that channel's secret.
	ErrWebhookUnauthenticated = errors.New("inbox: webhook not authenticated")
)

// Column limits of webhook_events (ent/schema/webhookevent.go). Keys and
// names come from the provider's body, so they are bounded here rather
// than left to fail ent's validators with a 5xx.
const (
	maxDedupeKey = 300
	maxEventName = 100
)

// ReceiveZalo stores one Zalo webhook post, signed in signature (the
// X-ZEvent-Signature header), for the processor, and wakes the processor.
// The OA is found from the event itself, so one URL serves every OA. A post
// Zalo already delivered (same dedupe key) is accepted and stored once.
func (in *Inbound) ReceiveZalo(ctx context.Context, signature string, body []byte) error {
	e, err := zalo.ParseEvent(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWebhookInvalid, err)
	}
	oaID := cleanText(e.OAID())
	if oaID == "" {
		return fmt.Errorf("%w: the event names no OA", ErrWebhookInvalid)
	}
	sys := viewer.SystemContext(ctx, "")
	ch, err := in.client.Channel.Query().
		Where(channel.KindEQ(channel.KindZALO_OA), channel.ExternalID(oaID)).
		Only(sys)
	if ent.IsNotFound(err) {
		return fmt.Errorf("%w: unknown OA", ErrWebhookUnauthenticated)
	}
	if err != nil {
		return err
	}
	secret, err := in.svc.openColumn(ch, ch.WebhookSecret, channel.FieldWebhookSecret)
	if err != nil {
		return err
	}
	if err := zalo.VerifySignature(signature, body, secret); err != nil {
		return fmt.Errorf("%w: %w", ErrWebhookUnauthenticated, err)
	}
	// Keys are scoped by OA: Zalo documents msg_id as unique, but the
	// hashed keys of follows and forms rest on user IDs that are only
	// unique within an OA.
	row := received{
		provider: webhookevent.ProviderZALO,
		key:      dedupeKey(oaID, e.DedupeKey()),
		name:     string(e.Name),
		channel:  ch,
		payload:  body,
	}
	if err := in.store(ctx, []received{row}); err != nil {
		return err
	}
	in.wake()
	return nil
}

// fbEntries is the part of a Messenger webhook ParseWebhook does not keep:
// each entry's page, time and raw events, in the order ParseWebhook
// flattens them.
type fbEntries struct {
	Entry []struct {
		ID        string            `json:"id"`
		Time      int64             `json:"time"`
		Messaging []json.RawMessage `json:"messaging"`
	} `json:"entry"`
}

// ReceiveFacebook stores the events of one Messenger webhook post, signed
// in signature (the X-Hub-Signature-256 header), one row per messaging
// event, and wakes the processor. Every page the post names must be one of
// our channels and the signature must verify with each page's own app
// secret: a page's events are accepted only on the word of that page's
// app, never on another tenant's.
func (in *Inbound) ReceiveFacebook(ctx context.Context, signature string, body []byte) error {
	wh, err := facebook.ParseWebhook(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWebhookInvalid, err)
	}
	var entries fbEntries
	if err := json.Unmarshal(body, &entries); err != nil {
		return fmt.Errorf("%w: %w", ErrWebhookInvalid, err)
	}
	var pages []string
	seen := map[string]bool{}
	for i := range entries.Entry {
		e := &entries.Entry[i]
		e.ID = cleanText(e.ID)
		if e.ID == "" {
			return fmt.Errorf("%w: an entry names no page", ErrWebhookInvalid)
		}
		if !seen[e.ID] {
			seen[e.ID] = true
			pages = append(pages, e.ID)
		}
	}
	if len(pages) == 0 {
		// Nothing is stored and nothing happens, so there is nothing to
		// authenticate.
		return nil
	}

	sys := viewer.SystemContext(ctx, "")
	chs, err := in.client.Channel.Query().
		Where(channel.KindEQ(channel.KindFACEBOOK_PAGE), channel.ExternalIDIn(pages...)).
		All(sys)
	if err != nil {
		return err
	}
	if len(chs) != len(pages) {
		return fmt.Errorf("%w: unknown page", ErrWebhookUnauthenticated)
	}
	byPage := map[string]*ent.Channel{}
	for _, ch := range chs {
		appSecret, err := in.svc.openColumn(ch, ch.AppSecret, channel.FieldAppSecret)
		if err != nil {
			return err
		}
		if err := facebook.VerifySignature(signature, body, appSecret); err != nil {
			return fmt.Errorf("%w: %w", ErrWebhookUnauthenticated, err)
		}
		byPage[ch.ExternalID] = ch
	}

	var rows []received
	k := 0
	for _, entry := range entries.Entry {
		ch := byPage[entry.ID]
		for _, raw := range entry.Messaging {
			if k >= len(wh.Events) {
				return fmt.Errorf("%w: entries and events disagree", ErrWebhookInvalid)
			}
			ev := wh.Events[k]
			k++
			// The payload is a webhook of this one event, so the processor
			// decodes it with the same ParseWebhook, entry time included.
			payload, err := json.Marshal(fbSingle{Object: "page", Entry: []fbSingleEntry{{ID: entry.ID, Time: entry.Time, Messaging: []json.RawMessage{raw}}}})
			if err != nil {
				return fmt.Errorf("%w: %w", ErrWebhookInvalid, err)
			}
			key := ev.DedupeKey()
			if key == "" {
				// Unknown events and messages without a mid have no key of
				// their own; a redelivery repeats the same bytes.
				key = "sha256:" + hashHex(raw)
			}
			rows = append(rows, received{
				provider: webhookevent.ProviderFACEBOOK,
				key:      dedupeKey(entry.ID, key),
				name:     string(ev.Type),
				channel:  ch,
				payload:  payload,
			})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := in.store(ctx, rows); err != nil {
		return err
	}
	in.wake()
	return nil
}

// fbSingle is a Messenger webhook holding one event, as stored.
type fbSingle struct {
	Object string          `json:"object"`
	Entry  []fbSingleEntry `json:"entry"`
}

type fbSingleEntry struct {
	ID        string            `json:"id"`
	Time      int64             `json:"time,omitempty"`
	Messaging []json.RawMessage `json:"messaging"`
}

// VerifyFacebookSubscription answers Facebook's subscription handshake
// (GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…): it returns
// the challenge to echo when the token is the server app's
// (InboundConfig.FacebookVerifyToken) or the verify token of a connected
// page, and ErrWebhookUnauthenticated otherwise.
func (in *Inbound) VerifyFacebookSubscription(ctx context.Context, query url.Values) (string, error) {
	if query.Get("hub.mode") != "subscribe" || query.Get("hub.verify_token") == "" || query.Get("hub.challenge") == "" {
		return "", fmt.Errorf("%w: not a subscription request", ErrWebhookUnauthenticated)
	}
	if token := in.fbVerifyToken; token != "" {
		if challenge, ok := facebook.VerifyChallenge(query, token); ok {
			return challenge, nil
		}
	}
	chs, err := in.client.Channel.Query().
		Where(channel.KindEQ(channel.KindFACEBOOK_PAGE), channel.StatusEQ(channel.StatusCONNECTED)).
		All(viewer.SystemContext(ctx, ""))
	if err != nil {
		return "", err
	}
	for _, ch := range chs {
		token, err := in.svc.openColumn(ch, ch.WebhookSecret, channel.FieldWebhookSecret)
		if err != nil {
			// One unreadable channel must not stop the others' handshakes.
			in.log.WarnContext(ctx, "cannot open a page's verify token", "channel", ch.ID, "err", err)
			continue
		}
		if challenge, ok := facebook.VerifyChallenge(query, token); ok {
			return challenge, nil
		}
	}
	return "", fmt.Errorf("%w: verify token matches no page", ErrWebhookUnauthenticated)
}

// received is one provider event to store.
type received struct {
	provider webhookevent.Provider
	key      string // the dedupe key
	name     string // the provider's event name
	channel  *ent.Channel
	payload  []byte
}

// store inserts the rows in one transaction; a row whose provider and
// dedupe key are already stored is skipped, since it is a provider retry.
func (in *Inbound) store(ctx context.Context, rows []received) error {
	sys := viewer.SystemContext(ctx, "")
	tx, err := in.client.Tx(sys)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	creates := make([]*ent.WebhookEventCreate, len(rows))
	for i, r := range rows {
		creates[i] = tx.WebhookEvent.Create().
			SetProvider(r.provider).
			SetDedupeKey(r.key).
			SetEventName(clip(cleanText(r.name), maxEventName)).
			SetOrganizationID(r.channel.OrganizationID).
			SetChannelID(r.channel.ID).
			SetPayload(r.payload).
			SetReceivedAt(in.now())
	}
	err = tx.WebhookEvent.CreateBulk(creates...).
		OnConflictColumns(webhookevent.FieldProvider, webhookevent.FieldDedupeKey).
		DoNothing().
		Exec(sys)
	if err != nil {
		return fmt.Errorf("inbox: storing webhook events: %w", err)
	}
	return tx.Commit()
}

// openColumn opens one sealed credential of a channel.
func (s *Service) openColumn(ch *ent.Channel, sealed []byte, column string) (string, error) {
	v, err := s.box.Open(sealed, sealContext(ch.ID, column))
	if err != nil {
		return "", fmt.Errorf("inbox: opening the %s of channel %s: %w", column, ch.ID, err)
	}
	return v, nil
}

// dedupeKey scopes a provider's key to the OA or page and keeps it within
// the column, hashing the rare key that would not fit.
func dedupeKey(scope, key string) string {
	k := cleanText(scope + ":" + key)
	if len(k) <= maxDedupeKey {
		return k
	}
	return "sha256:" + hashHex([]byte(k))
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "")
}
