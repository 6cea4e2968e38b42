package graph

import (
	"github.com/dakenh/dakenh/graph/model"
	"github.com/dakenh/dakenh/internal/auth"
)

func authPayload(s *auth.Session, err error) (*model.AuthPayload, error) {
	if err != nil {
		return nil, err
	}
	return &model.AuthPayload{Token: s.Token, ExpiresAt: s.ExpiresAt, User: s.User}, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
