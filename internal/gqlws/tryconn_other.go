//go:build !unix

package gqlws

import "net"

// nonBlockingWriter offers no non-blocking write here: every frame goes
// through the socket's writer goroutine.
func nonBlockingWriter(net.Conn) func([]byte) (int, error) { return nil }
