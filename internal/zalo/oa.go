package zalo

import (
	"context"
	"errors"
	"net/http"
)

// oaProfilePath is the OA's own profile (GET, access_token header).
const oaProfilePath = "/v2.0/oa/getoa"

// OA is an Official Account's profile, as its own access token reads it.
type OA struct {
	ID          string
	Name        string
	Description string
	Avatar      string
}

// oaProfile is the data of GET /v2.0/oa/getoa.
type oaProfile struct {
	OAID        flexString `json:"oa_id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Avatar      string     `json:"avatar"`
}

// OAProfile returns the profile of the OA whose access token is token: a
// consent names the OA only by id, and a channel needs its name.
func (c *Client) OAProfile(ctx context.Context, token string) (*OA, error) {
	const op = "OA profile"
	if token == "" {
		return nil, invalidArgument(op, "empty access token")
	}
	var d oaProfile
	if err := c.openAPI(ctx, oaProfilePath, call{method: http.MethodGet}, token, &d); err != nil {
		return nil, wrap(op, err)
	}
	if d.OAID == "" {
		return nil, wrap(op, &MalformedResponseError{Err: errors.New("no oa_id")})
	}
	return &OA{ID: string(d.OAID), Name: d.Name, Description: d.Description, Avatar: d.Avatar}, nil
}
