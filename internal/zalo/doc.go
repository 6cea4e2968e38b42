// Package zalo is the adapter for the Zalo Official Account (OA) Open API,
// its OAuth v4 token endpoint and its webhooks, as docs/providers.md
// describes them.
//
// # Outbound calls
//
// A Client sends consultation messages (text, image, file), uploads files
// and reads follower details with an OA access token, and obtains and
// refreshes those tokens with the app's credentials. It holds no tokens
// itself: the caller owns them, stores them encrypted, and makes sure that
// refreshes for one OA never run concurrently, because Zalo refresh tokens
// are single-use.
//
// # Errors
//
// Every non-nil error a Client returns is in exactly one of three classes,
// so that the delivery worker can react without knowing Zalo's codes:
//
//   - Token invalid (IsTokenInvalid): refresh the token, then retry once.
//     *APIError -216, or -124 from ZNS.
//   - Transient (IsTransient): retry later, with backoff.
//     *TransportError: connection refused or reset, DNS failure, answer cut
//     short, timeout (Config.Timeout or the caller's deadline), cancelled
//     context. *HTTPError with status 5xx, 408 or 429, whatever the body (a
//     gateway's HTML page, malformed JSON). *APIError -32 (OA rate limit)
//     or -100 (ZNS "unknown error, try again later").
//   - Permanent (IsPermanent): do not retry; record the reason.
//     *APIError with any other code, e.g. -201 invalid parameters, -213 the
//     user does not follow the OA, -230 the user has not interacted within
//     7 days. *OAuthError (see below). *HTTPError with another status (3xx,
//     4xx). *MalformedResponseError: HTTP 200 whose body is not Zalo's JSON
//     (wrong base URL, changed API). ErrInvalidArgument, configuration
//     errors, and errors reading the io.Reader given to UploadFile.
//
// An OAuth refusal (*OAuthError, e.g. -14014 invalid or already used refresh
// token, -14020 expired) is permanent and IsRefreshRejected reports it: the
// channel can no longer obtain tokens and must be marked DISCONNECTED until
// someone connects it again. A transient failure of the token endpoint must
// not disconnect the channel.
//
// Transient errors also say so themselves: *TransportError, *HTTPError and
// *APIError have a Transient() bool method, reachable through errors.As.
// A timeout keeps context.DeadlineExceeded in its chain; note that after a
// timeout Zalo may still have delivered the message, so a retry can
// duplicate it.
//
// Error messages never contain access tokens, refresh tokens or secrets.
//
// # Webhooks
//
// Zalo posts every event of every OA to one URL. The HTTP layer reads the
// raw body, calls ParseEvent to learn which OA the event belongs to
// (Event.OAID), looks up that channel's webhook secret, and only then calls
// VerifySignature on the same raw bytes; nothing is stored for an event
// whose signature fails. Event.DedupeKey identifies an event across Zalo's
// retries.
package zalo
