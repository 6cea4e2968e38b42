package customer

import "strings"

// The built-in CSV columns, as Export writes them. Import matches header
// names case-insensitively, so "Phone" and "DONOTCONTACT" work too.
const (
	colID           = "id"
	colName         = "name"
	colPhone        = "phone"
	colEmail        = "email"
	colAddress      = "address"
	colGender       = "gender"
	colBirthday     = "birthday"
	colStage        = "stage"
	colScore        = "score"
	colTags         = "tags"
	colDoNotContact = "doNotContact"
	colOwner        = "owner"
	colCreatedAt    = "createdAt"
)

// builtinColumns lists the built-in columns in export order. A custom field
// whose key equals one of them case-insensitively (e.g. "stage") cannot be
// told apart from it in a CSV header, so such a field is left out of CSV
// files.
var builtinColumns = []string{
	colID, colName, colPhone, colEmail, colAddress, colGender, colBirthday,
	colStage, colScore, colTags, colDoNotContact, colOwner, colCreatedAt,
}

// isBuiltinColumn reports whether a header name (any case) is a built-in
// column.
func isBuiltinColumn(name string) bool {
	for _, c := range builtinColumns {
		if strings.EqualFold(c, name) {
			return true
		}
	}
	return false
}

// formulaStarts are the first characters that make Excel, LibreOffice and
// Google Sheets evaluate a cell as a formula. Customer names and addresses
// come from strangers on Zalo and Facebook, so an exported cell starting with
// one of them is prefixed with an apostrophe (OWASP's CSV injection advice),
// and Import removes that apostrophe again so the round trip is lossless.
const formulaStarts = "=+-@\t\r"

// escapeCell defuses a cell a spreadsheet would run as a formula.
func escapeCell(s string) string {
	if s != "" && strings.IndexByte(formulaStarts, s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// unescapeCell undoes escapeCell.
func unescapeCell(s string) string {
	if len(s) >= 2 && s[0] == '\'' && strings.IndexByte(formulaStarts, s[1]) >= 0 {
		return s[1:]
	}
	return s
}
