package gqlws

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// A try never blocks: what the socket does not take at once is kept, and
// the next ordinary write sends it first, so the peer reads every byte in
// order.
func TestTryConnKeepsWhatTheSocketDoesNotTake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_ = client.(*net.TCPConn).SetReadBuffer(4096)
	raw := <-accepted
	if raw == nil {
		t.Fatal("accept failed")
	}
	_ = raw.(*net.TCPConn).SetWriteBuffer(4096)
	c := newTryConn(raw)
	defer c.Close()
	if !c.canTry() {
		t.Skip("no non-blocking writes on this platform")
	}

	// The client reads nothing yet: tries fill the kernel's buffers.
	var sent bytes.Buffer
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1024)
	for i := 0; ; i++ {
		b := append([]byte{byte(i)}, chunk...)
		left, err := c.try(func() error {
			n, err := c.Write(b)
			if n != len(b) {
				t.Errorf("try wrote %d of %d", n, len(b))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sent.Write(b)
		if left {
			break
		}
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	tail := []byte("tail")
	if _, err := c.Write(tail); err != nil { // blocks until the rest is out
		t.Fatal(err)
	}
	sent.Write(tail)
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if b := <-got; !bytes.Equal(b, sent.Bytes()) {
		t.Fatalf("the client read %d bytes, not the %d written in order", len(b), sent.Len())
	}
}
