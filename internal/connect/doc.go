// Package connect connects channels by a provider's consent screen instead
// of pasted tokens: the Zalo OA OAuth v4 flow with PKCE (docs/providers.md)
// and Facebook Login for pages.
//
// An admin starts an attempt (StartZalo) and is sent to Zalo's consent
// page with a fresh PKCE challenge and state. The attempt is stored server
// side, hashed and sealed, bound to the admin and organization, usable once
// and for StateTTL. Zalo sends the browser back to the callback
// (ZaloCallback), which spends the attempt, exchanges the code with its
// verifier, reads the OA's profile and connects or reconnects the channel
// through the inbox, then redirects the browser to the frontend only, with
// the channel's id or an error code. Tokens never leave the server.
//
// Facebook pages are connected by Facebook Login (facebook.go): the
// frontend hands over the short-lived user token, the server exchanges it
// for a long-lived one, lists the pages the user administers, subscribes
// the server's app to the chosen pages' messaging webhooks and stores their
// tokens, reporting per page what failed. A timer per page checks that the
// app is still subscribed (subscription.go); a refused token or a removed
// subscription loses the channel's connection (status.go) until an admin
// reconnects it.
package connect
