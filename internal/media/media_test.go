package media

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name        string
		data        []byte
		kind, ctype string
		ok          bool
	}{
		{"OKPNG", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), Image, "image/png", true},
		{"OKJPEG", []byte("\xff\xd8\xff\xe0\x00\x10JFIF"), Image, "image/jpeg", true},
		{"OKGIF", []byte("GIF89a\x01\x00\x01\x00"), Image, "image/gif", true},
		{"OKWebP", []byte("RIFF\x1a\x00\x00\x00WEBPVP8 "), Image, "image/webp", true},
		{"OKMP3ID3", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), Sound, "audio/mpeg", true},
		{"OKMP3Frame", []byte{0xFF, 0xFB, 0x90, 0x64}, Sound, "audio/mpeg", true},
		{"OKOgg", []byte("OggS\x00\x02\x00\x00"), Sound, "audio/ogg", true},
		{"OKWAV", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), Sound, "audio/wav", true},
		{"ErrSVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "", "", false},
		{"ErrHTML", []byte("<html><body>hi</body></html>"), "", "", false},
		{"ErrPDF", []byte("%PDF-1.7\n"), "", "", false},
		{"ErrMPEGLayerI", []byte{0xFF, 0xFF, 0x90, 0x64}, "", "", false},
		{"ErrEmpty", nil, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, ctype, ok := Sniff(tc.data)
			if kind != tc.kind || ctype != tc.ctype || ok != tc.ok {
				t.Fatalf("Sniff = %q %q %v, want %q %q %v", kind, ctype, ok, tc.kind, tc.ctype, tc.ok)
			}
		})
	}
}

func TestDirStore(t *testing.T) {
	s := DirStore{Dir: t.TempDir()}
	ctx := context.Background()
	data := []byte("OggS\x00\x02 some sound")
	key := hash(data)
	if err := s.Put(ctx, key, "audio/ogg", data); err != nil {
		t.Fatal(err)
	}
	// Idempotent: the same key again is no error and keeps the bytes.
	if err := s.Put(ctx, key, "audio/ogg", data); err != nil {
		t.Fatal(err)
	}
	b, err := s.Get(ctx, key)
	if err != nil || !bytes.Equal(b.Data, data) || b.ContentType != "audio/ogg" {
		t.Fatalf("Get = %+v, %v", b, err)
	}
	for _, bad := range []string{"../../etc/passwd", "ABCDEF", key[:63], key + "0"} {
		if err := s.Put(ctx, bad, "audio/ogg", data); err == nil {
			t.Fatalf("Put(%q) stored", bad)
		}
		if _, err := s.Get(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	if _, err := s.Get(ctx, hash([]byte("never stored"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key = %v", err)
	}
}
