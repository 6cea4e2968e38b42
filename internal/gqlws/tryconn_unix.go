//go:build unix

package gqlws

import (
	"errors"
	"net"
	"syscall"
)

// nonBlockingWriter returns a write that makes one attempt on c's socket,
// which the runtime keeps in non-blocking mode, and returns what the
// kernel took (0 when its buffer is full); nil when c is not a socket of
// its own (TLS, a pipe).
func nonBlockingWriter(c net.Conn) func([]byte) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	if _, tcp := c.(*net.TCPConn); !tcp {
		if _, unix := c.(*net.UnixConn); !unix {
			return nil
		}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return func(b []byte) (int, error) {
		var n int
		var werr error
		err := raw.Write(func(fd uintptr) bool {
			for {
				n, werr = syscall.Write(int(fd), b)
				if !errors.Is(werr, syscall.EINTR) {
					return true // one attempt: never wait for room
				}
			}
		})
		if err != nil {
			return 0, err
		}
		if errors.Is(werr, syscall.EAGAIN) {
			return 0, nil
		}
		if werr != nil {
			return 0, &net.OpError{Op: "write", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: werr}
		}
		return max(n, 0), nil
	}
}
