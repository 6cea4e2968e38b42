package database

import "database/sql"

// ReaderPool exposes the SQLite reader pool to the external tests.
func ReaderPool(db *DB) *sql.DB { return db.read }
