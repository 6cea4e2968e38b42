package auth_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
)

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name      string
		pw        string
		runes     int // documents the input: counted by the test
		bytes     int
		want      apierr.Code
		wantMsg   string
		wantField string
	}{
		{name: "ErrEmpty", pw: "", runes: 0, bytes: 0, want: apierr.BadUserInput, wantMsg: "password must have at least 8 characters"},
		{name: "ErrSevenASCII", pw: "abcdefg", runes: 7, bytes: 7, want: apierr.BadUserInput, wantMsg: "password must have at least 8 characters"},
		{name: "OKEightASCII", pw: "abcdefgh", runes: 8, bytes: 8},
		// 7 letters but 11 bytes: a byte count would wrongly accept it.
		{name: "ErrSevenVietnameseRunes", pw: "mậtkhẩu", runes: 7, bytes: 11, want: apierr.BadUserInput, wantMsg: "password must have at least 8 characters"},
		{name: "OKEightVietnameseRunes", pw: "mậtkhẩu1", runes: 8, bytes: 12},
		{name: "OKEightThreeByteRunes", pw: strings.Repeat("ệ", 8), runes: 8, bytes: 24},
		{name: "ErrSevenThreeByteRunes", pw: strings.Repeat("ệ", 7), runes: 7, bytes: 21, want: apierr.BadUserInput, wantMsg: "password must have at least 8 characters"},
		{name: "OK72Bytes", pw: strings.Repeat("a", 72), runes: 72, bytes: 72},
		{name: "Err73Bytes", pw: strings.Repeat("a", 73), runes: 73, bytes: 73, want: apierr.BadUserInput, wantMsg: "password must be at most 72 bytes"},
		{name: "OK72BytesVietnamese", pw: strings.Repeat("ệ", 24), runes: 24, bytes: 72},
		// 25 letters, far under 72 characters, but 75 bytes: bcrypt would
		// silently drop the tail.
		{name: "Err75BytesVietnamese", pw: strings.Repeat("ệ", 25), runes: 25, bytes: 75, want: apierr.BadUserInput, wantMsg: "password must be at most 72 bytes"},
		{name: "OKSpacesCount", pw: "a b c d ", runes: 8, bytes: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, b := utf8.RuneCountInString(tt.pw), len(tt.pw); r != tt.runes || b != tt.bytes {
				t.Fatalf("test input has %d runes and %d bytes, table says %d and %d (normalization?)", r, b, tt.runes, tt.bytes)
			}
			err := auth.ValidatePassword(tt.pw)
			checkErr(t, err, tt.want, tt.wantMsg)
			if tt.want != "" {
				if e, _ := apierr.As(err); e.Field != "password" {
					t.Fatalf("field = %q, want %q", e.Field, "password")
				}
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	svc := auth.New(nil, auth.Options{BcryptCost: bcrypt.MinCost})
	tests := []struct {
		name string
		pw   string
		want apierr.Code
	}{
		{name: "OK", pw: "mật-khẩu-đủ-dài"},
		{name: "OK72Bytes", pw: strings.Repeat("ệ", 24)},
		{name: "ErrTooShort", pw: "ngắn", want: apierr.BadUserInput},
		{name: "ErrTooLong", pw: strings.Repeat("ệ", 25), want: apierr.BadUserInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, err := svc.HashPassword(tt.pw)
			checkErr(t, err, tt.want, "")
			if tt.want != "" {
				if hash != "" {
					t.Fatalf("hash = %q with an error", hash)
				}
				return
			}
			if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.MinCost {
				t.Fatalf("cost = %d, %v; want %d", cost, err, bcrypt.MinCost)
			}
			if bcrypt.CompareHashAndPassword([]byte(hash), []byte(tt.pw)) != nil {
				t.Fatal("the hash does not match its password")
			}
			if bcrypt.CompareHashAndPassword([]byte(hash), []byte("x"+tt.pw)) == nil {
				t.Fatal("the hash matches another password")
			}
		})
	}
}
