package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/mediafile"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Service uploads and serves media.
type Service struct {
	client *ent.Client
	store  Store
	logger *slog.Logger
}

// New returns the media service over store.
func New(client *ent.Client, store Store, logger *slog.Logger) *Service {
	return &Service{client: client, store: store, logger: logger}
}

// Upload checks data and records it as one of the viewer's organization's
// media files. Admins only. Bytes that are none of the accepted types, or
// larger than their kind allows, are BAD_USER_INPUT naming "file" and
// store nothing. The same bytes uploaded again return the same file.
func (s *Service) Upload(ctx context.Context, data []byte) (*ent.MediaFile, error) {
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, apierr.BadInput("file", "the file is empty")
	}
	kind, contentType, ok := Sniff(data)
	if !ok {
		return nil, apierr.BadInput("file", "a file must be a PNG, JPEG, GIF or WebP image or an MP3, Ogg or WAV sound")
	}
	if max := maxBytes(kind); int64(len(data)) > max {
		return nil, &apierr.Error{Code: apierr.BadUserInput, Field: "file", Limit: "mediaBytes",
			Message: "a " + strings.ToLower(kind) + " is at most " + sizeText(max)}
	}
	key := hash(data)
	if f, err := s.client.MediaFile.Query().Where(mediafile.Sha256(key)).Only(ctx); err == nil {
		return f, nil
	} else if !ent.IsNotFound(err) {
		return nil, err
	}
	// The bytes first: a file row never points at missing bytes. Bytes
	// whose row then fails are harmless; the next upload of them reuses
	// them.
	if err := s.store.Put(ctx, key, contentType, data); err != nil {
		return nil, err
	}
	v := viewer.FromContext(ctx)
	create := s.client.MediaFile.Create().SetKind(mediafile.Kind(kind)).SetContentType(contentType).
		SetSize(int64(len(data))).SetSha256(key)
	if v.UserID != "" {
		create.SetUploadedByID(v.UserID)
	}
	f, err := create.Save(ctx)
	if ent.IsConstraintError(err) {
		// The same bytes uploaded twice at once: the other upload won.
		return s.client.MediaFile.Query().Where(mediafile.Sha256(key)).Only(ctx)
	}
	return f, err
}

// sizeText writes a whole number of MiB.
func sizeText(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }

// uploadResponse is what POST /media answers.
type uploadResponse struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// UploadHandler answers POST /media: the file is the raw request body, or
// the part named "file" of a multipart/form-data body. It answers 201
// with the file's id, kind, contentType, size and url, or an error as
// GraphQL's {"errors": [...]} with its code and field.
func (s *Service) UploadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := readUpload(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		f, err := s.Upload(r.Context(), data)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(uploadResponse{
			ID: string(f.ID), Kind: string(f.Kind), ContentType: f.ContentType, Size: f.Size, URL: URL(f.Sha256),
		})
	})
}

// readUpload reads at most one byte more than the largest accepted file,
// so that a larger one is refused without being read to its end.
func readUpload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	const limit = MaxSoundBytes + 1
	tooLarge := &apierr.Error{Code: apierr.BadUserInput, Field: "file", Limit: "mediaBytes",
		Message: "a file is at most " + sizeText(MaxSoundBytes)}
	if r.ContentLength > limit+64<<10 { // room for a multipart envelope
		return nil, tooLarge
	}
	body := http.MaxBytesReader(w, r.Body, limit+64<<10)
	var src io.Reader = body
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil, apierr.BadInput("file", "the form has no part named file")
			}
			if err != nil {
				return nil, apierr.BadInput("file", "the form cannot be read")
			}
			if p.FormName() == "file" {
				src = p
				break
			}
		}
	}
	data, err := io.ReadAll(io.LimitReader(src, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || len(data) >= limit {
		return nil, tooLarge
	}
	if err != nil {
		return nil, apierr.BadInput("file", "the file cannot be read")
	}
	return data, nil
}

// writeError answers a failed upload with the error's status and code.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apierr.As(err)
	if !ok {
		s.logger.ErrorContext(r.Context(), "media upload failed", "err", err)
		e = apierr.New(apierr.Internal, "internal error")
	}
	status := map[apierr.Code]int{
		apierr.Unauthenticated: http.StatusUnauthorized,
		apierr.Forbidden:       http.StatusForbidden,
		apierr.BadUserInput:    http.StatusBadRequest,
		apierr.NotFound:        http.StatusNotFound,
	}[e.Code]
	if e.Limit != "" {
		status = http.StatusRequestEntityTooLarge
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{e.GraphQL()}})
}

// ServeHandler answers GET and HEAD /media/{sha256}: public, with the
// sniffed type, and cacheable forever since the path names the content.
// Range requests work, for seeking in a sound.
func (s *Service) ServeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.PathValue("sha256")
		b, err := s.store.Get(r.Context(), key)
		if errors.Is(err, ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			s.logger.ErrorContext(r.Context(), "reading media", "key", key, "err", err)
			http.Error(w, "media unavailable", http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		h.Set("Content-Type", b.ContentType)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", `"`+key+`"`)
		h.Set("X-Content-Type-Options", "nosniff")
		// The widget shows these on the businesses' own sites.
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b.Data))
	})
}
