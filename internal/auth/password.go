package auth

import (
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/dakenh/dakenh/internal/apierr"
)

// Password limits. bcrypt reads at most 72 bytes, so longer passwords would
// be silently truncated; refusing them is clearer.
const (
	MinPasswordLen   = 8
	MaxPasswordBytes = 72
)

// ValidatePassword checks a new password against the limits.
func ValidatePassword(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return apierr.BadInput("password", "password must have at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordBytes:
		return apierr.BadInput("password", "password must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// HashPassword validates and hashes a password with bcrypt at the service's
// cost.
func (s *Service) HashPassword(pw string) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), s.opts.BcryptCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

func checkPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}
