package main

import (
	"encoding/json"
	"net/http"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	crm "github.com/dakenh/dakenh/internal/customer"
	"github.com/dakenh/dakenh/internal/requestlog"
)

// exportCustomers streams the customers CSV as a download, row by row, for
// exports too large to hold in one GraphQL string. It takes the same
// `search` and `where` (a JSON CustomerWhereInput) as exportCustomers and is
// authenticated the same way.
func (a *App) exportCustomers(w http.ResponseWriter, r *http.Request) {
	var where *ent.CustomerWhereInput
	if s := r.URL.Query().Get("where"); s != "" {
		where = &ent.CustomerWhereInput{}
		if err := json.Unmarshal([]byte(s), where); err != nil {
			writeError(w, http.StatusBadRequest, apierr.BadInput("where", "where is not a CustomerWhereInput: %v", err))
			return
		}
	}
	// Headers go out before the first row, so access is checked first: an
	// error after that could only cut the download short.
	if err := crm.CanExport(r.Context()); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="customers.csv"`)
	if err := crm.Export(r.Context(), a.db.Client, w, where, r.URL.Query().Get("search")); err != nil {
		requestlog.FromContext(r.Context()).Error("customer export failed", "err", err)
	}
}

func statusOf(err error) int {
	switch apierr.CodeOf(err) {
	case apierr.Unauthenticated:
		return http.StatusUnauthorized
	case apierr.Forbidden:
		return http.StatusForbidden
	case apierr.BadUserInput:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError answers a plain HTTP route with the GraphQL error shape, so
// clients parse one format everywhere.
func writeError(w http.ResponseWriter, status int, err error) {
	e, ok := apierr.As(err)
	if !ok {
		e = apierr.New(apierr.Internal, "internal error")
	}
	ext := map[string]any{"code": e.Code}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	msg := e.Message
	if e.Code == apierr.Internal {
		msg = "internal error"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", auth.BearerChallenge)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "extensions": ext}}})
}
