// Package schematype holds the Go types of JSON columns. It lives apart from
// ent/schema because the generated client imports these types while the
// schema imports the generated privacy package.
package schematype

// Attachment is a file, image, sticker or place carried by a message.
type Attachment struct {
	Type      string   `json:"type"`
	URL       string   `json:"url,omitempty"`
	Name      string   `json:"name,omitempty"`
	Size      int64    `json:"size,omitempty"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}
