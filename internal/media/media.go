// Package media keeps the images and sounds admins upload (README.md,
// "LiveTalk settings"): it checks their type by their bytes and their
// size, stores the bytes once per content in a Store (the database by
// default, or a directory every replica shares), records a MediaFile per
// organization, and serves the bytes publicly at /media/<sha256>, a URL
// that names the content and so may be cached forever.
package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/mediafile"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/policy"
)

// The kinds of media.
const (
	Image = "IMAGE"
	Sound = "SOUND"
)

// The largest accepted uploads: an avatar, a popup image or a button is
// small; a hold-music loop may run a minute or two.
const (
	MaxImageBytes = 2 << 20
	MaxSoundBytes = 5 << 20
)

// PathPrefix is where the media are served.
const PathPrefix = "/media/"

// ErrNotFound is returned by a Store for a key it does not hold.
var ErrNotFound = errors.New("media: not found")

// Blob is stored content.
type Blob struct {
	ContentType string
	Data        []byte
}

// Store keeps uploaded bytes under their hex SHA-256. Put is idempotent:
// the same key always holds the same bytes. Every replica must see what
// any of them put.
type Store interface {
	Put(ctx context.Context, key, contentType string, data []byte) error
	Get(ctx context.Context, key string) (Blob, error)
}

// URL returns the public path of content with the given hex SHA-256,
// relative to the server's address.
func URL(sha string) string { return PathPrefix + sha }

// Sniff returns the kind and content type of data by its first bytes, or
// ok false for anything but PNG, JPEG, GIF, WebP, MP3, Ogg or WAV. What
// the uploader claims is never trusted: SVG or HTML would run script.
func Sniff(data []byte) (kind, contentType string, ok bool) {
	switch http.DetectContentType(data) {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return Image, http.DetectContentType(data), true
	case "audio/mpeg":
		return Sound, "audio/mpeg", true
	case "application/ogg":
		return Sound, "audio/ogg", true
	case "audio/wave":
		return Sound, "audio/wav", true
	}
	// An MP3 without an ID3 tag starts with an MPEG audio frame: eleven
	// sync bits, then the version and layer III (01).
	if len(data) >= 4 && data[0] == 0xFF && data[1]&0xE0 == 0xE0 && (data[1]>>1)&0x3 == 0x1 && data[1]&0x18 != 0x08 {
		return Sound, "audio/mpeg", true
	}
	return "", "", false
}

// maxBytes returns the largest accepted size of a kind.
func maxBytes(kind string) int64 {
	if kind == Sound {
		return MaxSoundBytes
	}
	return MaxImageBytes
}

// hash returns the hex SHA-256 of data.
func hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Lookup returns the organization's media file id, for a setting that
// references it: a file that does not exist or is another organization's
// is NOT_FOUND, one of another kind BAD_USER_INPUT, both naming field.
func Lookup(ctx context.Context, c *ent.Client, id gid.ID, kind, field string) (*ent.MediaFile, error) {
	f, err := c.MediaFile.Query().Where(mediafile.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &apierr.Error{Code: apierr.NotFound, Field: field, Message: fmt.Sprintf("no media file %s", id)}
	}
	if err != nil {
		return nil, err
	}
	if string(f.Kind) != kind {
		return nil, apierr.BadInput(field, "media file %s is a %s, not a %s", id, f.Kind, kind)
	}
	return f, nil
}

// requireAdmin returns the viewer if it may upload.
func requireAdmin(ctx context.Context) error {
	_, err := policy.RequireAdmin(ctx, "upload media")
	return err
}

// MaxListed is how many files List returns.
const MaxListed = 200

// List returns the viewer's organization's media files, newest first, of
// one kind when kind is set; at most MaxListed.
func List(ctx context.Context, c *ent.Client, kind *mediafile.Kind) ([]*ent.MediaFile, error) {
	q := c.MediaFile.Query()
	if kind != nil {
		q.Where(mediafile.KindEQ(*kind))
	}
	return q.Order(ent.Desc(mediafile.FieldCreatedAt), ent.Desc(mediafile.FieldID)).Limit(MaxListed).All(ctx)
}
