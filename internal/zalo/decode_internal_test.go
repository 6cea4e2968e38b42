package zalo

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// These tests cover answer shapes the fake does not produce: Zalo has been
// seen to send numbers where its documentation shows strings.

func TestFlexStringAcceptsStringsAndNumbers(t *testing.T) {
	tests := []struct {
		json    string
		want    flexString
		wantErr bool
	}{
		{json: `"84987654321"`, want: "84987654321"},
		{json: `84987654321`, want: "84987654321"},
		{json: `1700000000000`, want: "1700000000000"},
		{json: `10.7769`, want: "10.7769"},
		{json: `null`, want: ""},
		{json: `""`, want: ""},
		{json: `true`, wantErr: true},
		{json: `{"id":1}`, wantErr: true},
		{json: `["1"]`, wantErr: true},
	}
	for _, tt := range tests {
		var got flexString
		err := json.Unmarshal([]byte(tt.json), &got)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Unmarshal(%s) = %q, %v; want %q, error %t", tt.json, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDecodeEnvelope(t *testing.T) {
	type data struct {
		MessageID flexString `json:"message_id"`
	}
	tests := []struct {
		name    string
		status  int
		body    string
		want    data
		wantErr error
	}{
		{name: "Success", status: 200, body: `{"error":0,"message":"Success","data":{"message_id":"m1"}}`, want: data{"m1"}},
		{name: "NumericMessageID", status: 200, body: `{"error":0,"data":{"message_id":123}}`, want: data{"123"}},
		{name: "ErrorCode", status: 200, body: `{"error":-230,"message":"User has not interacted"}`,
			wantErr: &APIError{Code: -230, Message: "User has not interacted"}},
		{name: "ErrorWinsOver4xx", status: 400, body: `{"error":-201,"message":"bad"}`,
			wantErr: &APIError{Code: -201, Message: "bad"}},
		{name: "5xxWinsOverBody", status: 503, body: `{"error":-201,"message":"bad"}`,
			wantErr: &HTTPError{StatusCode: 503}},
		{name: "5xxWithHTML", status: 502, body: `<html>Bad Gateway</html>`, wantErr: &HTTPError{StatusCode: 502}},
		{name: "4xxWithHTML", status: 404, body: `<html>Not Found</html>`, wantErr: &HTTPError{StatusCode: 404}},
		{name: "SuccessEnvelopeAt4xx", status: 403, body: `{"error":0,"data":{}}`, wantErr: &HTTPError{StatusCode: 403}},
		{name: "NoErrorField", status: 200, body: `{"data":{"message_id":"m1"}}`,
			wantErr: &MalformedResponseError{Err: errors.New(`no "error" field`)}},
		{name: "NoData", status: 200, body: `{"error":0,"message":"Success"}`,
			wantErr: &MalformedResponseError{Err: errors.New(`no "data" field`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got data
			err := decodeEnvelope(tt.status, []byte(tt.body), &got)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Errorf("decodeEnvelope = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if !reflect.DeepEqual(err, tt.wantErr) {
				t.Errorf("err = %#v, want %#v", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeUserDetailWithNumericPhone(t *testing.T) {
	body := `{"error":0,"message":"Success","data":{"user_id":"u1","display_name":"A",
		"shared_info":{"name":"A","phone":84987654321,"address":"HN"},"tags_and_notes_info":{"tag_names":["x"]}}}`
	var d userDetail
	if err := decodeEnvelope(200, []byte(body), &d); err != nil {
		t.Fatalf("decodeEnvelope: %v", err)
	}
	if d.SharedInfo.Phone != "84987654321" || !reflect.DeepEqual(d.TagsAndNotes.TagNames, []string{"x"}) {
		t.Errorf("decoded %+v", d)
	}
}

func TestDecodeToken(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		body    string
		want    *Token
		wantErr error
	}{
		{name: "StringExpiresIn", status: 200, body: `{"access_token":"a","refresh_token":"r","expires_in":"90000"}`,
			want: &Token{AccessToken: "a", RefreshToken: "r", ExpiresAt: now.Add(25 * time.Hour)}},
		{name: "NumericExpiresIn", status: 200, body: `{"access_token":"a","refresh_token":"r","expires_in":3600}`,
			want: &Token{AccessToken: "a", RefreshToken: "r", ExpiresAt: now.Add(time.Hour)}},
		{name: "OAuthError", status: 200,
			body:    `{"error":-14014,"error_name":"invalid_grant","error_reason":"r","error_description":"Invalid refresh token"}`,
			wantErr: &OAuthError{Code: -14014, Name: "invalid_grant", Reason: "r", Description: "Invalid refresh token"}},
		{name: "OAuthErrorAt400", status: 400, body: `{"error":-14020,"error_name":"expired"}`,
			wantErr: &OAuthError{Code: -14020, Name: "expired"}},
		{name: "EnvelopeStyleError", status: 200, body: `{"error":-14002,"message":"Invalid app"}`,
			wantErr: &OAuthError{Code: -14002, Description: "Invalid app"}},
		{name: "ServerError", status: 500, body: `{"error":-14014}`, wantErr: &HTTPError{StatusCode: 500}},
		{name: "NoRefreshToken", status: 200, body: `{"access_token":"a","expires_in":"90000"}`,
			wantErr: &MalformedResponseError{Err: errors.New("no access_token or refresh_token")}},
		{name: "ExpiresInNotANumber", status: 200, body: `{"access_token":"a","refresh_token":"r","expires_in":"soon"}`},
		{name: "ExpiresInMissing", status: 200, body: `{"access_token":"a","refresh_token":"r"}`},
		{name: "ExpiresInHuge", status: 200, body: `{"access_token":"a","refresh_token":"r","expires_in":"99999999999999"}`},
		{name: "HTMLAt200", status: 200, body: `<html></html>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeToken(tt.status, []byte(tt.body), now)
			switch {
			case tt.want != nil:
				if err != nil || *got != *tt.want {
					t.Errorf("decodeToken = %v, %v; want %v", got, err, tt.want)
				}
			case tt.wantErr != nil:
				if !reflect.DeepEqual(err, tt.wantErr) {
					t.Errorf("err = %#v, want %#v", err, tt.wantErr)
				}
			default:
				if _, ok := errors.AsType[*MalformedResponseError](err); !ok {
					t.Errorf("err = %#v, want a MalformedResponseError", err)
				}
			}
		})
	}
}
