package zalo

import (
	"context"
	"net/http"
	"net/url"
)

// userDetailPath reads a follower's profile.
const userDetailPath = "/v3.0/oa/user/detail"

// User is what an OA knows about a Zalo user.
type User struct {
	// ID is the user's ID for this OA (user_id).
	ID string
	// IDByApp is the user's ID for the app (user_id_by_app).
	IDByApp string
	// DisplayName is the user's Zalo name.
	DisplayName string
	// Avatar is the URL of the user's picture.
	Avatar string
	// IsFollower reports whether the user follows the OA.
	IsFollower bool
	// Shared is what the user chose to share with the OA; zero when nothing.
	Shared SharedInfo
	// Tags are the OA's tags on the user.
	Tags []string
}

// SharedInfo is contact information a user shared with the OA. Phone is as
// Zalo sends it (e.g. "84987654321"); normalize it before storing.
type SharedInfo struct {
	Name    string
	Phone   string
	Address string
}

// userDetail is the data of GET /v3.0/oa/user/detail.
type userDetail struct {
	UserID         flexString `json:"user_id"`
	UserIDByApp    flexString `json:"user_id_by_app"`
	DisplayName    string     `json:"display_name"`
	Avatar         string     `json:"avatar"`
	UserIsFollower bool       `json:"user_is_follower"`
	TagsAndNotes   struct {
		TagNames []string `json:"tag_names"`
	} `json:"tags_and_notes_info"`
	SharedInfo struct {
		Name    string     `json:"name"`
		Phone   flexString `json:"phone"`
		Address string     `json:"address"`
	} `json:"shared_info"`
}

// UserDetail returns the profile of the user with the given ID as the OA
// sees it.
func (c *Client) UserDetail(ctx context.Context, token, userID string) (*User, error) {
	const op = "user detail"
	if userID == "" {
		return nil, invalidArgument(op, "empty user ID")
	}
	// GET parameters travel as one JSON document in the data query value.
	param, err := marshalJSON(struct {
		UserID string `json:"user_id"`
	}{userID})
	if err != nil {
		return nil, wrap(op, err)
	}
	query := url.Values{"data": {string(param)}}.Encode()

	var d userDetail
	if err := c.openAPI(ctx, userDetailPath+"?"+query, call{method: http.MethodGet}, token, &d); err != nil {
		return nil, wrap(op, err)
	}
	u := &User{
		ID:          string(d.UserID),
		IDByApp:     string(d.UserIDByApp),
		DisplayName: d.DisplayName,
		Avatar:      d.Avatar,
		IsFollower:  d.UserIsFollower,
		Shared: SharedInfo{
			Name:    d.SharedInfo.Name,
			Phone:   string(d.SharedInfo.Phone),
			Address: d.SharedInfo.Address,
		},
		Tags: d.TagsAndNotes.TagNames,
	}
	if u.ID == "" {
		// The answer need not repeat the ID the request named; filling it in
		// keeps User self-contained.
		u.ID = userID
	}
	return u, nil
}
