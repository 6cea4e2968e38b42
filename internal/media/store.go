package media

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/mediablob"
	"github.com/dakenh/dakenh/internal/viewer"
)

// validKey is a hex SHA-256: nothing else reaches a store, so no key can
// climb out of a directory.
var validKey = regexp.MustCompile(`^[0-9a-f]{64}$`)

// DBStore keeps the bytes in the MediaBlob table. It is the default: with
// PostgreSQL every replica reads the same rows, and with the embedded
// database there is one process.
type DBStore struct{ Client *ent.Client }

// Put stores data under key unless it is already there.
func (s DBStore) Put(ctx context.Context, key, contentType string, data []byte) error {
	if !validKey.MatchString(key) {
		return fmt.Errorf("media: bad key %q", key)
	}
	sys := viewer.SystemContext(ctx, "")
	return s.Client.MediaBlob.Create().SetSha256(key).SetContentType(contentType).SetData(data).
		OnConflictColumns(mediablob.FieldSha256).Ignore().Exec(sys)
}

// Get returns the bytes under key.
func (s DBStore) Get(ctx context.Context, key string) (Blob, error) {
	if !validKey.MatchString(key) {
		return Blob{}, ErrNotFound
	}
	b, err := s.Client.MediaBlob.Query().Where(mediablob.Sha256(key)).Only(viewer.SystemContext(ctx, ""))
	if ent.IsNotFound(err) {
		return Blob{}, ErrNotFound
	}
	if err != nil {
		return Blob{}, err
	}
	return Blob{ContentType: b.ContentType, Data: b.Data}, nil
}

// DirStore keeps the bytes as files under Dir, two levels deep by the
// key's first characters. Several replicas need Dir on a disk they all
// mount (DAKENH_MEDIA_DIR).
type DirStore struct{ Dir string }

func (s DirStore) path(key string) string { return filepath.Join(s.Dir, key[:2], key) }

// Put writes data under key unless it is already there; it writes a
// temporary file and renames it, so a reader never sees part of one.
func (s DirStore) Put(_ context.Context, key, _ string, data []byte) error {
	if !validKey.MatchString(key) {
		return fmt.Errorf("media: bad key %q", key)
	}
	p := s.path(key)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), key+".*.tmp")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(f.Name()) // the write's error says what went wrong
		return err
	}
	return os.Rename(f.Name(), p)
}

// Get reads the bytes under key; their type is sniffed again, as it was
// on upload, since the same bytes always sniff the same.
func (s DirStore) Get(_ context.Context, key string) (Blob, error) {
	if !validKey.MatchString(key) {
		return Blob{}, ErrNotFound
	}
	data, err := os.ReadFile(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return Blob{}, ErrNotFound
	}
	if err != nil {
		return Blob{}, err
	}
	_, ct, ok := Sniff(data)
	if !ok {
		return Blob{}, ErrNotFound
	}
	return Blob{ContentType: ct, Data: data}, nil
}
