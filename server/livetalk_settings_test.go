package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/livetalk"
	"github.com/dakenh/dakenh/internal/media"
	"github.com/dakenh/dakenh/internal/viewer"
)

// liveTalkFields selects every LiveTalkSettings field.
const liveTalkFields = `buttonText
	popup { kind content imageId imageUrl avatarId avatarUrl title name delaySeconds }
	position offsetX offsetY headerColor textColor title description width height
	functions visibleFields requiredFields startBy departmentIds agentIds representative
	signature { text linkUrl }
	buttonStyle { kind icon backgroundColor iconColor imageId imageUrl }
	buttonDisplay { mode highlight }
	links { kind url description target }
	startButtons
	sounds { newMessage { builtin mediaId url } newRoom { builtin mediaId url } audioRingtone { builtin mediaId url }
		videoRingtone { builtin mediaId url } holdMusic { builtin mediaId url } volume }
	updatedAt`

const (
	updateLiveTalkMutation = `mutation($c: ID!, $in: LiveTalkSettingsInput!) { updateLiveTalkSettings(channelId: $c, input: $in) { channel { id } ` + liveTalkFields + ` } }`
	liveTalkQuery          = `query($c: ID!) { node(id: $c) { ... on Channel { liveTalkSettings { ` + liveTalkFields + ` } } } }`
)

// liveTalkEnv is a server with a tenant, its LIVETALK channel (made
// through the ent client) and a department.
type liveTalkEnv struct {
	*env
	tn      *tenant
	orgID   gid.ID
	channel gid.ID
	dep     string
}

func newLiveTalkEnv(t *testing.T) *liveTalkEnv {
	t.Helper()
	e := newEnv(t)
	l := &liveTalkEnv{env: e, tn: e.newTenant("Cửa hàng Hoa")}
	l.orgID = e.orgOf(l.tn.ownerToken)
	l.channel = gid.ID(e.createLiveTalk(l.tn.ownerToken, "Website Hoa", "https://hoa.example.vn").ID)
	var dep struct{ CreateDepartment struct{ ID string } }
	e.must(l.tn.ownerToken, `mutation($in: CreateDepartmentInput!) { createDepartment(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": "Bán hàng", "agentIds": []string{l.tn.agentID}, "method": "BROADCAST",
	}}, &dep)
	l.dep = dep.CreateDepartment.ID
	return l
}

// orgOf returns the organization of the token's user.
func (e *env) orgOf(token string) gid.ID {
	e.t.Helper()
	var me struct {
		Me struct{ Organization struct{ ID gid.ID } }
	}
	e.must(token, `{ me { organization { id } } }`, nil, &me)
	return me.Me.Organization.ID
}

// settings reads the channel's settings as JSON.
func (l *liveTalkEnv) settings(token string, ch gid.ID) map[string]any {
	l.t.Helper()
	var out struct {
		Node struct{ LiveTalkSettings map[string]any }
	}
	l.must(token, liveTalkQuery, map[string]any{"c": ch}, &out)
	return out.Node.LiveTalkSettings
}

func (l *liveTalkEnv) update(token string, in map[string]any) *gqlResponse {
	l.t.Helper()
	return l.gql(token, updateLiveTalkMutation, map[string]any{"c": l.channel, "in": in})
}

// uploaded is what POST /media answers.
type uploaded struct {
	Status int
	ID     string
	Kind   string
	Type   string `json:"contentType"`
	Size   int64
	URL    string
	Errors []gqlError
}

// upload posts data to /media as the raw body, or as a multipart form's
// "file" part when multipart is set.
func (e *env) upload(token string, data []byte, claimedType string, multipartForm bool) uploaded {
	e.t.Helper()
	body, ct := io.Reader(bytes.NewReader(data)), claimedType
	if multipartForm {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		fw, _ := w.CreateFormFile("file", "upload.bin")
		_, _ = fw.Write(data)
		_ = w.Close()
		body, ct = &buf, w.FormDataContentType()
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/media", body)
	req.Header.Set("Content-Type", ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("POST /media: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := uploaded{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("POST /media: status %d, body %q: %v", resp.StatusCode, raw, err)
	}
	return out
}

// Test files: real encodings from the standard library, and the
// documented headers of the formats it cannot write.
func pngBytes(t testing.TB, seed uint8) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{seed, 2, 3, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB) []byte {
	img := image.NewPaletted(image.Rect(0, 0, 2, 2), []color.Color{color.Black, color.White})
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{img, img}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var (
	webpBytes   = append([]byte("RIFF\x1a\x00\x00\x00WEBPVP8 "), make([]byte, 14)...)
	mp3ID3Bytes = append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), bytes.Repeat([]byte{0xFF, 0xFB, 0x90, 0x64}, 64)...)
	mp3RawBytes = bytes.Repeat([]byte{0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0}, 64)
	oggBytes    = append([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), make([]byte, 50)...)
	wavBytes    = append([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"), make([]byte, 40)...)
)

func TestMediaUpload(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant("Media Org")
	accepted := []struct {
		name        string
		data        []byte
		kind, ctype string
		multipart   bool
	}{
		{"PNG", pngBytes(t, 1), "IMAGE", "image/png", false},
		{"JPEG", jpegBytes(t), "IMAGE", "image/jpeg", false},
		{"GIFMultipart", gifBytes(t), "IMAGE", "image/gif", true},
		{"WebP", webpBytes, "IMAGE", "image/webp", false},
		{"MP3WithID3", mp3ID3Bytes, "SOUND", "audio/mpeg", false},
		{"MP3Frames", mp3RawBytes, "SOUND", "audio/mpeg", true},
		{"Ogg", oggBytes, "SOUND", "audio/ogg", false},
		{"WAV", wavBytes, "SOUND", "audio/wav", false},
	}
	for _, tc := range accepted {
		t.Run("OK"+tc.name, func(t *testing.T) {
			// The claimed type is ignored: the bytes decide.
			up := e.upload(tn.adminToken, tc.data, "application/octet-stream", tc.multipart)
			if up.Status != http.StatusCreated || up.Kind != tc.kind || up.Type != tc.ctype || up.Size != int64(len(tc.data)) ||
				!strings.HasPrefix(up.URL, "/media/") || len(up.URL) != len("/media/")+64 || !strings.HasPrefix(up.ID, "mdf_") {
				t.Fatalf("upload = %+v", up)
			}
			again := e.upload(tn.ownerToken, tc.data, "", false)
			if again.ID != up.ID || again.URL != up.URL {
				t.Fatalf("the same bytes again = %+v, want file %s", again, up.ID)
			}
		})
	}
	t.Run("SameBytesOtherOrganization", func(t *testing.T) {
		// Another organization gets its own file over the same bytes.
		other := e.newTenant("Other Media Org")
		mine := e.upload(tn.adminToken, wavBytes, "", false)
		theirs := e.upload(other.adminToken, wavBytes, "", true)
		if theirs.Status != http.StatusCreated || theirs.ID == mine.ID || theirs.URL != mine.URL {
			t.Fatalf("mine %+v, theirs %+v", mine, theirs)
		}
	})
	big := func(head []byte, n int) []byte {
		return append(append([]byte{}, head...), make([]byte, n-len(head))...)
	}
	refused := []struct {
		name      string
		token     string
		data      []byte
		claimed   string
		status    int
		code      string
		multipart bool
	}{
		{"ErrSVG", tn.adminToken, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "image/svg+xml", 400, "BAD_USER_INPUT", false},
		{"ErrHTMLClaimingPNG", tn.adminToken, []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), "image/png", 400, "BAD_USER_INPUT", false},
		{"ErrText", tn.adminToken, []byte("just some words"), "audio/mpeg", 400, "BAD_USER_INPUT", true},
		{"ErrEmpty", tn.adminToken, nil, "image/png", 400, "BAD_USER_INPUT", false},
		{"ErrImageTooLarge", tn.adminToken, big(pngBytes(t, 2), media.MaxImageBytes+1), "image/png", 413, "BAD_USER_INPUT", false},
		{"ErrSoundTooLarge", tn.adminToken, big(wavBytes, media.MaxSoundBytes+1), "audio/wav", 413, "BAD_USER_INPUT", true},
		{"ErrAgent", tn.agentToken, pngBytes(t, 3), "image/png", 403, "FORBIDDEN", false},
		{"ErrAnonymous", "", pngBytes(t, 3), "image/png", 401, "UNAUTHENTICATED", false},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			up := e.upload(tc.token, tc.data, tc.claimed, tc.multipart)
			if up.Status != tc.status || len(up.Errors) != 1 || up.Errors[0].Extensions["code"] != tc.code || up.ID != "" {
				t.Fatalf("upload = %+v, want %d %s", up, tc.status, tc.code)
			}
			if tc.code == "BAD_USER_INPUT" && up.Errors[0].Extensions["field"] != "file" {
				t.Fatalf("field = %v, want file", up.Errors[0].Extensions["field"])
			}
		})
	}
	t.Run("NothingStoredForRefusals", func(t *testing.T) {
		sys := viewer.SystemContext(context.Background(), "")
		files := e.db.Client.MediaFile.Query().CountX(sys)
		blobs := e.db.Client.MediaBlob.Query().CountX(sys)
		if files != len(accepted)+1 || blobs != len(accepted) {
			t.Fatalf("%d files and %d blobs, want %d and %d", files, blobs, len(accepted)+1, len(accepted))
		}
	})
	t.Run("Listed", func(t *testing.T) {
		type file struct {
			ID, Kind, ContentType, URL string
			Size                       int64
			UploadedBy                 *struct{ ID string }
		}
		var out struct{ All, Sounds []file }
		e.must(tn.agentToken, `{ all: mediaFiles { id kind contentType size url uploadedBy { id } }
			sounds: mediaFiles(kind: SOUND) { id kind contentType size url uploadedBy { id } } }`, nil, &out)
		if len(out.All) != len(accepted) || len(out.Sounds) != 4 {
			t.Fatalf("listed %d files and %d sounds", len(out.All), len(out.Sounds))
		}
		// Newest first: the WAV, uploaded last by the admin.
		if f := out.All[0]; f.Kind != "SOUND" || f.ContentType != "audio/wav" || f.Size != int64(len(wavBytes)) ||
			!strings.HasPrefix(f.URL, "/media/") || f.UploadedBy == nil || f.UploadedBy.ID != tn.adminID {
			t.Fatalf("newest file %+v", f)
		}
		for _, f := range out.Sounds {
			if f.Kind != "SOUND" {
				t.Fatalf("sounds list %+v", f)
			}
		}
		// Another organization's list holds only its own.
		var other struct{ MediaFiles []file }
		e.must(e.newTenant("Stranger Org").ownerToken, `{ mediaFiles { id } }`, nil, &other)
		if len(other.MediaFiles) != 0 {
			t.Fatalf("a stranger lists %+v", other.MediaFiles)
		}
	})
	t.Run("ServedWithCacheHeadersByEveryReplica", func(t *testing.T) {
		data := pngBytes(t, 9)
		up := e.upload(tn.adminToken, data, "image/png", false)
		// A second server on the same database: with PostgreSQL, another
		// replica, which has no disk in common with the first.
		other := newEnvOn(t, e.db)
		for _, srv := range []*env{e, other} {
			resp, err := http.Get(srv.srv.URL + up.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			etag := resp.Header.Get("ETag")
			if resp.StatusCode != 200 || !bytes.Equal(got, data) || resp.Header.Get("Content-Type") != "image/png" ||
				resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
				etag != `"`+strings.TrimPrefix(up.URL, "/media/")+`"` || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("GET %s = %d %v", up.URL, resp.StatusCode, resp.Header)
			}
			req, _ := http.NewRequest(http.MethodGet, srv.srv.URL+up.URL, nil)
			req.Header.Set("If-None-Match", etag)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotModified {
				t.Fatalf("conditional GET = %d, want 304", resp.StatusCode)
			}
		}
		for _, path := range []string{"/media/" + strings.Repeat("0", 64), "/media/..%2f..%2fetc%2fpasswd", "/media/ABC"} {
			resp, err := http.Get(other.srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("GET %s = %d, want 404", path, resp.StatusCode)
			}
		}
	})
}

// TestMediaDirStore keeps uploads in a directory: what one server stores
// another on the same directory serves.
func TestMediaDirStore(t *testing.T) {
	dir := t.TempDir()
	onDir := func(c *Config, _ *appOptions) { c.MediaDir = dir }
	e := newEnv(t, onDir)
	tn := e.newTenant("Dir Org")
	data := oggBytes
	up := e.upload(tn.adminToken, data, "", false)
	if up.Status != http.StatusCreated {
		t.Fatalf("upload = %+v", up)
	}
	if n := e.db.Client.MediaBlob.Query().CountX(viewer.SystemContext(context.Background(), "")); n != 0 {
		t.Fatalf("%d blobs in the database, want none", n)
	}
	other := newEnvOn(t, e.db, onDir)
	resp, err := http.Get(other.srv.URL + up.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) || resp.Header.Get("Content-Type") != "audio/ogg" {
		t.Fatalf("GET = %d %v", resp.StatusCode, resp.Header)
	}
}

func TestLiveTalkSettingsDefaults(t *testing.T) {
	l := newLiveTalkEnv(t)
	s := l.settings(l.tn.agentToken, l.channel)
	if s["title"] != "Website Hoa" || s["updatedAt"] != nil || s["headerColor"] != "#0a7cff" || s["width"] != 360.0 ||
		!reflect.DeepEqual(s["functions"], []any{"CHAT"}) || !reflect.DeepEqual(s["requiredFields"], []any{"NAME"}) {
		t.Fatalf("defaults = %v", s)
	}
	// Another kind of channel has none, and cannot be given any.
	var oa struct{ ConnectZaloOA struct{ ID gid.ID } }
	l.must(l.tn.ownerToken, `mutation($in: ConnectZaloOAInput!) { connectZaloOA(input: $in) { id } }`,
		map[string]any{"in": zaloInput("oa-lt-defaults")}, &oa)
	var out struct {
		Node struct{ LiveTalkSettings *map[string]any }
	}
	l.must(l.tn.ownerToken, liveTalkQuery, map[string]any{"c": oa.ConnectZaloOA.ID}, &out)
	if out.Node.LiveTalkSettings != nil {
		t.Fatalf("a Zalo OA has LiveTalk settings %v", *out.Node.LiveTalkSettings)
	}
	r := l.gql(l.tn.adminToken, updateLiveTalkMutation, map[string]any{"c": oa.ConnectZaloOA.ID, "in": map[string]any{"title": "x"}})
	if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "channelId" {
		t.Fatalf("updating a Zalo OA's LiveTalk settings = %+v", r.Errors)
	}
}

// fullInput sets every setting; img and snd are uploaded files.
func fullInput(l *liveTalkEnv, img, avatar, snd uploaded) map[string]any {
	return map[string]any{
		"buttonText": "  Nhắn tin ngay  ",
		"popup": map[string]any{"kind": "IMAGE", "content": "Chào bạn!", "imageId": img.ID, "avatarId": avatar.ID,
			"title": "Hoa tươi mỗi ngày", "name": "Hoa", "delaySeconds": 12},
		"position": "BOTTOM_LEFT", "offsetX": 16, "offsetY": 24,
		"headerColor": "#FF6600", "textColor": "#222222",
		"title": "Cửa hàng Hoa", "description": "Chúng tôi trả lời trong 5 phút",
		"width": 400, "height": 600,
		"functions":     []string{"VIDEO", "AUDIO"},
		"visibleFields": []string{"NAME", "PHONE", "EMAIL"}, "requiredFields": []string{"PHONE", "NAME"},
		"startBy": "AGENT", "departmentIds": []string{l.dep}, "agentIds": []string{l.tn.agentID, l.tn.adminID},
		"representative": "AGENTS",
		"signature":      map[string]any{"text": "Chạy bởi [[Dakenh]]", "linkUrl": "https://dakenh.example.vn/"},
		"buttonStyle":    map[string]any{"kind": "PRESET", "icon": "HEADSET", "backgroundColor": "#112233", "iconColor": "#ffffff"},
		"buttonDisplay":  map[string]any{"mode": "HIGHLIGHT", "highlight": "VIDEO"},
		"links": []map[string]any{
			{"kind": "FACEBOOK", "url": "https://facebook.com/hoa", "description": "Fanpage"},
			{"kind": "ZALO", "url": "https://zalo.me/123", "target": "SAME_TAB"},
		},
		"startButtons": "COLLAPSED",
		"sounds": map[string]any{
			"newMessage": map[string]any{"builtin": "pop"}, "newRoom": map[string]any{"builtin": "bell"},
			"audioRingtone": map[string]any{"mediaId": snd.ID}, "videoRingtone": map[string]any{"builtin": "digital-ring"},
			"holdMusic": map[string]any{"mediaId": snd.ID}, "volume": 55,
		},
	}
}

func TestLiveTalkSettingsUpdate(t *testing.T) {
	l := newLiveTalkEnv(t)
	img := l.upload(l.tn.adminToken, pngBytes(t, 1), "", false)
	avatar := l.upload(l.tn.adminToken, gifBytes(t), "", false)
	snd := l.upload(l.tn.adminToken, mp3ID3Bytes, "", false)

	t.Run("Full", func(t *testing.T) {
		var out struct{ UpdateLiveTalkSettings map[string]any }
		l.must(l.tn.adminToken, updateLiveTalkMutation, map[string]any{"c": l.channel, "in": fullInput(l, img, avatar, snd)}, &out)
		got := l.settings(l.tn.agentToken, l.channel)
		saved := out.UpdateLiveTalkSettings
		delete(saved, "channel")
		if !reflect.DeepEqual(saved, got) {
			t.Fatalf("saved %v\nread %v", saved, got)
		}
		sound := map[string]any{"builtin": nil, "mediaId": snd.ID, "url": snd.URL}
		want := map[string]any{
			"buttonText": "Nhắn tin ngay",
			"popup": map[string]any{"kind": "IMAGE", "content": "Chào bạn!", "imageId": img.ID, "imageUrl": img.URL,
				"avatarId": avatar.ID, "avatarUrl": avatar.URL, "title": "Hoa tươi mỗi ngày", "name": "Hoa", "delaySeconds": 12.0},
			"position": "BOTTOM_LEFT", "offsetX": 16.0, "offsetY": 24.0, "headerColor": "#ff6600", "textColor": "#222222",
			"title": "Cửa hàng Hoa", "description": "Chúng tôi trả lời trong 5 phút", "width": 400.0, "height": 600.0,
			"functions": []any{"CHAT", "AUDIO", "VIDEO"}, "visibleFields": []any{"NAME", "PHONE", "EMAIL"},
			"requiredFields": []any{"PHONE", "NAME"}, "startBy": "AGENT", "departmentIds": []any{l.dep},
			"agentIds": []any{l.tn.agentID, l.tn.adminID}, "representative": "AGENTS",
			"signature":     map[string]any{"text": "Chạy bởi [[Dakenh]]", "linkUrl": "https://dakenh.example.vn/"},
			"buttonStyle":   map[string]any{"kind": "PRESET", "icon": "HEADSET", "backgroundColor": "#112233", "iconColor": "#ffffff", "imageId": nil, "imageUrl": nil},
			"buttonDisplay": map[string]any{"mode": "HIGHLIGHT", "highlight": "VIDEO"},
			"links": []any{
				map[string]any{"kind": "FACEBOOK", "url": "https://facebook.com/hoa", "description": "Fanpage", "target": "NEW_TAB"},
				map[string]any{"kind": "ZALO", "url": "https://zalo.me/123", "description": "", "target": "SAME_TAB"},
			},
			"startButtons": "COLLAPSED",
			"sounds": map[string]any{
				"newMessage": map[string]any{"builtin": "pop", "mediaId": nil, "url": nil}, "newRoom": map[string]any{"builtin": "bell", "mediaId": nil, "url": nil},
				"audioRingtone": sound, "videoRingtone": map[string]any{"builtin": "digital-ring", "mediaId": nil, "url": nil},
				"holdMusic": sound, "volume": 55.0,
			},
		}
		if got["updatedAt"] == nil {
			t.Fatal("updatedAt is null after a save")
		}
		delete(got, "updatedAt")
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Fatalf("read back\n%s\nwant\n%s", gj, wj)
		}
	})

	t.Run("Partial", func(t *testing.T) {
		before := l.settings(l.tn.adminToken, l.channel)
		r := l.update(l.tn.adminToken, map[string]any{
			"headerColor": "#000000",
			"popup":       map[string]any{"title": "Giảm giá 20%", "imageId": "", "kind": "TEXT"},
			"sounds":      map[string]any{"holdMusic": map[string]any{"builtin": "soft-melody"}},
			"links":       []any{},
		})
		r.decode(t, nil)
		after := l.settings(l.tn.adminToken, l.channel)
		want := before
		want["headerColor"] = "#000000"
		popup := want["popup"].(map[string]any)
		popup["title"], popup["imageId"], popup["imageUrl"], popup["kind"] = "Giảm giá 20%", nil, nil, "TEXT"
		want["sounds"].(map[string]any)["holdMusic"] = map[string]any{"builtin": "soft-melody", "mediaId": nil, "url": nil}
		want["links"] = []any{}
		delete(want, "updatedAt")
		delete(after, "updatedAt")
		if !reflect.DeepEqual(after, want) {
			aj, _ := json.Marshal(after)
			wj, _ := json.Marshal(want)
			t.Fatalf("after a partial update\n%s\nwant\n%s", aj, wj)
		}
	})

	t.Run("ActivityLogged", func(t *testing.T) {
		page := l.activityLog(l.tn.ownerToken, map[string]any{"action": "LIVETALK_SETTINGS_UPDATED"}, 10, "")
		if len(page.rows) != 2 {
			t.Fatalf("%d LIVETALK_SETTINGS_UPDATED entries, want 2: %s", len(page.rows), page.raw)
		}
		for _, row := range page.rows {
			if row.Actor == nil || row.Actor.ID != l.tn.adminID || row.Channel == nil || row.Channel.ID != string(l.channel) ||
				row.SubjectID == nil || *row.SubjectID != string(l.channel) || row.Details["name"] != "Website Hoa" {
				t.Fatalf("entry %+v", row)
			}
		}
		// Newest first: the partial update changed the header colour and
		// left the title alone.
		changes, _ := page.rows[0].Details["changes"].(map[string]any)
		if hc, _ := changes["headerColor"].(map[string]any); hc["from"] != "#ff6600" || hc["to"] != "#000000" || changes["title"] != nil {
			t.Fatalf("partial update's changes = %v", changes)
		}
		first, _ := page.rows[1].Details["changes"].(map[string]any)
		if tc, _ := first["title"].(map[string]any); tc["from"] != "Website Hoa" || tc["to"] != "Cửa hàng Hoa" ||
			!reflect.DeepEqual(page.rows[1].Details["alsoChanged"], []any{"signature"}) {
			t.Fatalf("full update's details = %v", page.rows[1].Details)
		}
	})

	t.Run("AgentRefused", func(t *testing.T) {
		before := l.settings(l.tn.adminToken, l.channel)
		if r := l.update(l.tn.agentToken, map[string]any{"title": "pwned"}); r.code() != "FORBIDDEN" {
			t.Fatalf("an agent's update = %+v", r.Errors)
		}
		if after := l.settings(l.tn.adminToken, l.channel); !reflect.DeepEqual(before, after) {
			t.Fatalf("an agent changed the settings: %v", after)
		}
	})

	t.Run("PublicLook", func(t *testing.T) {
		look, err := livetalk.PublicLook(context.Background(), l.db.Client, l.channel)
		if err != nil {
			t.Fatal(err)
		}
		if look.Title != "Cửa hàng Hoa" || look.HeaderColor != "#000000" || look.Popup.Title != "Giảm giá 20%" ||
			look.Popup.AvatarURL != avatar.URL || look.Popup.ImageURL != "" || look.HoldMusic.Builtin != "soft-melody" ||
			!reflect.DeepEqual(look.RequiredFields, []string{"PHONE", "NAME"}) || !reflect.DeepEqual(look.Functions, []string{"CHAT", "AUDIO", "VIDEO"}) {
			t.Fatalf("look = %+v", look)
		}
		raw, _ := json.Marshal(look)
		for _, private := range []string{"newMessage", "audioRingtone", "mediaId", string(snd.ID), string(avatar.ID)} {
			if strings.Contains(string(raw), private) {
				t.Fatalf("the public look holds %q: %s", private, raw)
			}
		}
		if _, err := livetalk.PublicLook(context.Background(), l.db.Client, gid.New("Channel")); err == nil {
			t.Fatal("a missing channel has a look")
		}
	})
}

func TestLiveTalkSettingsValidation(t *testing.T) {
	l := newLiveTalkEnv(t)
	img := l.upload(l.tn.adminToken, pngBytes(t, 1), "", false)
	avatar := l.upload(l.tn.adminToken, gifBytes(t), "", false)
	snd := l.upload(l.tn.adminToken, wavBytes, "", false)
	l.update(l.tn.adminToken, fullInput(l, img, avatar, snd)).decode(t, nil)
	before := l.settings(l.tn.adminToken, l.channel)
	gone, _, _ := l.createUser(l.tn.ownerToken, "AGENT")
	l.must(l.tn.ownerToken, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, map[string]any{"id": gone}, nil)
	six := make([]map[string]any, 6)
	for i := range six {
		six[i] = map[string]any{"kind": "SKYPE", "url": "https://join.skype.com/x"}
	}
	missing := string(gid.New("MediaFile"))

	cases := []struct {
		name, field, code string
		in                map[string]any
	}{
		{"ButtonTextEmpty", "input.buttonText", "BAD_USER_INPUT", map[string]any{"buttonText": "   "}},
		{"ButtonTextLong", "input.buttonText", "BAD_USER_INPUT", map[string]any{"buttonText": strings.Repeat("x", 41)}},
		{"PopupContentLong", "input.popup.content", "BAD_USER_INPUT", map[string]any{"popup": map[string]any{"content": strings.Repeat("x", 501)}}},
		{"PopupTitleLong", "input.popup.title", "BAD_USER_INPUT", map[string]any{"popup": map[string]any{"title": strings.Repeat("x", 101)}}},
		{"PopupNameLong", "input.popup.name", "BAD_USER_INPUT", map[string]any{"popup": map[string]any{"name": strings.Repeat("x", 101)}}},
		{"PopupDelayNegative", "input.popup.delaySeconds", "BAD_USER_INPUT", map[string]any{"popup": map[string]any{"delaySeconds": -1}}},
		{"PopupDelayLong", "input.popup.delaySeconds", "BAD_USER_INPUT", map[string]any{"popup": map[string]any{"delaySeconds": 3601}}},
		{"PopupImageMissing", "input.popup.imageId", "NOT_FOUND", map[string]any{"popup": map[string]any{"imageId": missing}}},
		{"PopupImageIsASound", "input.popup.imageId", "BAD_USER_INPUT", map[string]any{"popup": map[string]any{"imageId": snd.ID}}},
		{"PopupImageRemovedFromImagePopup", "input.popup.imageId", "BAD_USER_INPUT", map[string]any{"popup": map[string]any{"imageId": ""}}},
		{"PopupAvatarIsASound", "input.popup.avatarId", "BAD_USER_INPUT", map[string]any{"popup": map[string]any{"avatarId": snd.ID}}},
		{"OffsetXNegative", "input.offsetX", "BAD_USER_INPUT", map[string]any{"offsetX": -1}},
		{"OffsetYLarge", "input.offsetY", "BAD_USER_INPUT", map[string]any{"offsetY": 201}},
		{"HeaderColorName", "input.headerColor", "BAD_USER_INPUT", map[string]any{"headerColor": "red"}},
		{"HeaderColorShort", "input.headerColor", "BAD_USER_INPUT", map[string]any{"headerColor": "#fff"}},
		{"TextColorNotHex", "input.textColor", "BAD_USER_INPUT", map[string]any{"textColor": "#gggggg"}},
		{"TitleEmpty", "input.title", "BAD_USER_INPUT", map[string]any{"title": ""}},
		{"TitleLong", "input.title", "BAD_USER_INPUT", map[string]any{"title": strings.Repeat("á", 101)}},
		{"DescriptionLong", "input.description", "BAD_USER_INPUT", map[string]any{"description": strings.Repeat("x", 501)}},
		{"WidthSmall", "input.width", "BAD_USER_INPUT", map[string]any{"width": 279}},
		{"WidthLarge", "input.width", "BAD_USER_INPUT", map[string]any{"width": 801}},
		{"HeightSmall", "input.height", "BAD_USER_INPUT", map[string]any{"height": 359}},
		{"HeightLarge", "input.height", "BAD_USER_INPUT", map[string]any{"height": 1001}},
		{"FunctionTwice", "input.functions.1", "BAD_USER_INPUT", map[string]any{"functions": []string{"AUDIO", "AUDIO"}}},
		{"FunctionsDropHighlighted", "input.functions", "BAD_USER_INPUT", map[string]any{"functions": []string{"AUDIO"}}},
		{"VisibleFieldTwice", "input.visibleFields.2", "BAD_USER_INPUT", map[string]any{"visibleFields": []string{"NAME", "PHONE", "NAME"}}},
		{"RequiredNotVisible", "input.requiredFields.1", "BAD_USER_INPUT", map[string]any{"visibleFields": []string{"NAME"}, "requiredFields": []string{"NAME", "EMAIL"}}},
		{"RequiredFieldHidden", "input.requiredFields.0", "BAD_USER_INPUT", map[string]any{"visibleFields": []string{"NAME"}}},
		{"DepartmentMissing", "input.departmentIds.1", "NOT_FOUND", map[string]any{"departmentIds": []string{l.dep, string(gid.New("Department"))}}},
		{"DepartmentTwice", "input.departmentIds.1", "BAD_USER_INPUT", map[string]any{"departmentIds": []string{l.dep, l.dep}}},
		{"AgentMissing", "input.agentIds.0", "NOT_FOUND", map[string]any{"agentIds": []string{string(gid.New("User"))}}},
		{"AgentDeactivated", "input.agentIds.1", "NOT_FOUND", map[string]any{"agentIds": []string{l.tn.agentID, gone}}},
		{"SignatureTwoLinks", "input.signature.text", "BAD_USER_INPUT", map[string]any{"signature": map[string]any{"text": "[[a]] và [[b]]"}}},
		{"SignatureUnclosed", "input.signature.text", "BAD_USER_INPUT", map[string]any{"signature": map[string]any{"text": "Xem [[tại đây"}}},
		{"SignatureEmptyLink", "input.signature.text", "BAD_USER_INPUT", map[string]any{"signature": map[string]any{"text": "Xem [[]]"}}},
		{"SignatureLinkWithoutURL", "input.signature.linkUrl", "BAD_USER_INPUT", map[string]any{"signature": map[string]any{"linkUrl": ""}}},
		{"SignatureURLNotHTTP", "input.signature.linkUrl", "BAD_USER_INPUT", map[string]any{"signature": map[string]any{"linkUrl": "javascript:alert(1)"}}},
		{"SignatureLong", "input.signature.text", "BAD_USER_INPUT", map[string]any{"signature": map[string]any{"text": strings.Repeat("x", 201)}}},
		{"ButtonBackgroundColor", "input.buttonStyle.backgroundColor", "BAD_USER_INPUT", map[string]any{"buttonStyle": map[string]any{"backgroundColor": "blue"}}},
		{"ButtonIconColor", "input.buttonStyle.iconColor", "BAD_USER_INPUT", map[string]any{"buttonStyle": map[string]any{"iconColor": "#12345"}}},
		{"ButtonImageKindWithoutImage", "input.buttonStyle.kind", "BAD_USER_INPUT", map[string]any{"buttonStyle": map[string]any{"kind": "IMAGE"}}},
		{"ButtonImageIsASound", "input.buttonStyle.imageId", "BAD_USER_INPUT", map[string]any{"buttonStyle": map[string]any{"kind": "IMAGE", "imageId": snd.ID}}},
		{"DisplayOnlyAudioWithoutAudio", "input.functions", "BAD_USER_INPUT", map[string]any{"buttonDisplay": map[string]any{"mode": "ONLY_AUDIO"}, "functions": []string{"VIDEO"}}},
		{"DisplayHighlightOff", "input.functions", "BAD_USER_INPUT", map[string]any{"buttonDisplay": map[string]any{"highlight": "AUDIO", "mode": "HIGHLIGHT"}, "functions": []string{"VIDEO"}}},
		{"SixLinks", "input.links.5", "BAD_USER_INPUT", map[string]any{"links": six}},
		{"LinkNotHTTP", "input.links.1.url", "BAD_USER_INPUT", map[string]any{"links": []map[string]any{{"kind": "ZALO", "url": "https://zalo.me/1"}, {"kind": "ZALO", "url": "ftp://zalo.me/1"}}}},
		{"LinkNoHost", "input.links.0.url", "BAD_USER_INPUT", map[string]any{"links": []map[string]any{{"kind": "FACEBOOK", "url": "https://"}}}},
		{"LinkDescriptionLong", "input.links.0.description", "BAD_USER_INPUT", map[string]any{"links": []map[string]any{{"kind": "FACEBOOK", "url": "https://fb.com/x", "description": strings.Repeat("x", 101)}}}},
		{"SoundBoth", "input.sounds.newMessage", "BAD_USER_INPUT", map[string]any{"sounds": map[string]any{"newMessage": map[string]any{"builtin": "pop", "mediaId": snd.ID}}}},
		{"SoundNeither", "input.sounds.newRoom", "BAD_USER_INPUT", map[string]any{"sounds": map[string]any{"newRoom": map[string]any{}}}},
		{"SoundBuiltinUnknown", "input.sounds.audioRingtone.builtin", "BAD_USER_INPUT", map[string]any{"sounds": map[string]any{"audioRingtone": map[string]any{"builtin": "fanfare"}}}},
		{"SoundIsAnImage", "input.sounds.holdMusic.mediaId", "BAD_USER_INPUT", map[string]any{"sounds": map[string]any{"holdMusic": map[string]any{"mediaId": img.ID}}}},
		{"SoundMissing", "input.sounds.videoRingtone.mediaId", "NOT_FOUND", map[string]any{"sounds": map[string]any{"videoRingtone": map[string]any{"mediaId": missing}}}},
		{"VolumeLarge", "input.sounds.volume", "BAD_USER_INPUT", map[string]any{"sounds": map[string]any{"volume": 101}}},
		{"VolumeNegative", "input.sounds.volume", "BAD_USER_INPUT", map[string]any{"sounds": map[string]any{"volume": -1}}},
	}
	entries := l.activityLog(l.tn.ownerToken, nil, 1, "").total
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A valid change rides along: it must not be applied either.
			tc.in["description"] = "đổi"
			if tc.field == "input.description" {
				tc.in["description"] = strings.Repeat("x", 501)
			}
			r := l.update(l.tn.adminToken, tc.in)
			if r.code() != tc.code || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("got %q %+v, want %s on %s", r.code(), r.Errors, tc.code, tc.field)
			}
			if after := l.settings(l.tn.adminToken, l.channel); !reflect.DeepEqual(before, after) {
				t.Fatalf("a refused update changed the settings")
			}
		})
	}
	if n := l.activityLog(l.tn.ownerToken, nil, 1, "").total; n != entries {
		t.Fatalf("refused updates logged %d entries", n-entries)
	}
}

// TestREADMELiveTalkSettings runs README.md's updateLiveTalkSettings
// example, with real IDs in place of its placeholders.
func TestREADMELiveTalkSettings(t *testing.T) {
	l := newLiveTalkEnv(t)
	avatar := l.upload(l.tn.adminToken, gifBytes(t), "", false)
	snd := l.upload(l.tn.adminToken, mp3ID3Bytes, "", false)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "mutation {\n  updateLiveTalkSettings")
	if i < 0 {
		t.Fatal("README.md has no updateLiveTalkSettings example")
	}
	q := s[i : i+strings.Index(s[i:], "\n```")]
	q = strings.NewReplacer(`"cha_…"`, `"`+string(l.channel)+`"`, `avatarId: "mdf_…"`, `avatarId: "`+avatar.ID+`"`,
		`mediaId: "mdf_…"`, `mediaId: "`+snd.ID+`"`, `["dep_…", "dep_…"]`, `["`+l.dep+`"]`).Replace(q)
	var out struct {
		UpdateLiveTalkSettings struct {
			Title  string
			Popup  struct{ AvatarURL string }
			Sounds struct{ HoldMusic struct{ URL string } }
		}
	}
	l.must(l.tn.adminToken, q, nil, &out)
	if got := out.UpdateLiveTalkSettings; got.Title != "Shop Hoa Lan" || got.Popup.AvatarURL != avatar.URL || got.Sounds.HoldMusic.URL != snd.URL {
		t.Fatalf("README's example saved %+v", got)
	}
}
