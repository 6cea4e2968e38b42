package livetalk

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/automessage"
)

// Field is a visitor field the widget asks for before a chat starts.
type Field string

// The visitor fields.
const (
	FieldName  Field = "NAME"
	FieldPhone Field = "PHONE"
	FieldEmail Field = "EMAIL"
)

// Function is something the widget offers; chat is always on.
type Function string

// The widget's functions.
const (
	FunctionChat  Function = "CHAT"
	FunctionAudio Function = "AUDIO"
	FunctionVideo Function = "VIDEO"
)

// Look is a channel's widget as visitors see it: widget(key, path)
// answers it, and startChat holds visitors to its RequiredFields. It is
// the public part of the channel's LiveTalk settings (Settings, with
// their defaults until an admin saves some) and the greeting of the page.
type Look struct {
	Title, Description     string
	HeaderColor, TextColor string
	// RequiredFields must be filled before a chat starts.
	RequiredFields []Field
	Functions      []Function
	// Greeting is the greeting popup of the page's path, if any: its
	// delay wins over the settings' popup delay there.
	Greeting *Greeting
	// Settings are the rest of the window's look and behaviour.
	Settings WidgetLook
}

// Greeting is a greeting popup: its contents, shown after DelaySeconds.
type Greeting struct {
	Title        string
	Contents     []string
	DelaySeconds int
}

// lookOf returns the look of ch's widget on the page path ("" when the
// widget named none), reading as the system of ch's organization.
func lookOf(ctx context.Context, client *ent.Client, ch *ent.Channel, path string) (Look, error) {
	w, err := PublicLookOf(ctx, client, ch)
	if err != nil {
		return Look{}, err
	}
	l := Look{
		Title: w.Title, Description: w.Description, HeaderColor: w.HeaderColor, TextColor: w.TextColor,
		RequiredFields: make([]Field, 0, len(w.RequiredFields)),
		Functions:      make([]Function, 0, len(w.Functions)),
		Settings:       w,
	}
	for _, f := range w.RequiredFields {
		l.RequiredFields = append(l.RequiredFields, Field(f))
	}
	for _, f := range w.Functions {
		l.Functions = append(l.Functions, Function(f))
	}
	l.Greeting, err = GreetingFor(ctx, client, ch, path)
	return l, err
}

// GreetingFor returns the channel's enabled GREETING auto-message whose
// path is the page's (compared without a trailing slash), or nil.
func GreetingFor(ctx context.Context, client *ent.Client, ch *ent.Channel, path string) (*Greeting, error) {
	path = normalizePath(path)
	if path == "" {
		return nil, nil
	}
	gs, err := client.AutoMessage.Query().
		Where(automessage.ChannelID(ch.ID), automessage.KindEQ(automessage.KindGREETING), automessage.Enabled(true)).
		All(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if g.Path != nil && normalizePath(*g.Path) == path {
			return &Greeting{Title: g.Title, Contents: g.Contents, DelaySeconds: g.DelaySeconds}, nil
		}
	}
	return nil, nil
}

// normalizePath is a page path without its query, fragment or trailing
// slash ("/" stays).
func normalizePath(p string) string {
	p = strings.TrimSpace(p)
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return p
}

// MarshalGQL writes the field as a GraphQL enum value.
func (f Field) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(f))) }

// UnmarshalGQL reads a field from a GraphQL enum value.
func (f *Field) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, f, FieldName, FieldPhone, FieldEmail)
}

// MarshalGQL writes the function as a GraphQL enum value.
func (f Function) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(f))) }

// UnmarshalGQL reads a function from a GraphQL enum value.
func (f *Function) UnmarshalGQL(v any) error {
	return unmarshalEnum(v, f, FunctionChat, FunctionAudio, FunctionVideo)
}

func unmarshalEnum[T ~string](v any, dst *T, values ...T) error {
	s, ok := v.(string)
	if !ok || !slices.Contains(values, T(s)) {
		return fmt.Errorf("%v is not one of %v", v, values)
	}
	*dst = T(s)
	return nil
}
