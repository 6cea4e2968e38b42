package livecall

import (
	"crypto/hmac"
	"crypto/sha1" // the TURN REST scheme's HMAC, which coturn checks
	"encoding/base64"
	"strconv"

	"github.com/dakenh/dakenh/ent"
)

// IceServer is a STUN or TURN server as RTCPeerConnection takes it.
type IceServer struct {
	URLs       []string `json:"urls"`
	Username   *string  `json:"username,omitempty"`
	Credential *string  `json:"credential,omitempty"`
}

// IceServers returns the STUN and TURN servers of a LiveTalk call, the same
// for both of its sides; a Zalo call has none. TURN credentials follow the
// TURN REST scheme (coturn's use-auth-secret): the user name is
// "<expiry unix time>:<call ID>" and the credential
// base64(HMAC-SHA1(secret, user name)), valid TurnCredentialLifetime.
func (e *Engine) IceServers(c *ent.Call) []IceServer {
	if c == nil || c.ConversationID == nil {
		return []IceServer{}
	}
	out := []IceServer{}
	if len(e.cfg.StunURLs) > 0 {
		out = append(out, IceServer{URLs: e.cfg.StunURLs})
	}
	if len(e.cfg.TurnURLs) > 0 && len(e.cfg.TurnSecret) > 0 {
		user := strconv.FormatInt(e.now().Add(TurnCredentialLifetime).Unix(), 10) + ":" + string(c.ID)
		mac := hmac.New(sha1.New, e.cfg.TurnSecret)
		mac.Write([]byte(user))
		cred := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		out = append(out, IceServer{URLs: e.cfg.TurnURLs, Username: &user, Credential: &cred})
	}
	return out
}
