// Package driverconn embeds database/sql/driver.Conn: results of the other
// package's own types (driver.Stmt, driver.Tx) are qualified.
package driverconn

import (
	"context"
	"database/sql/driver"
)

// Conn is a driver connection with a context-aware ping.
//
//baldur:protect retry=2
//baldur:skip Close
type Conn interface {
	driver.Conn
	driver.Pinger
	//baldur:protect timeout=2s
	QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error)
}
