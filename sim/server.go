package sim

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server is a Cluster served on a loopback port, in the style of
// httptest.Server: URL is the cluster's base URL (its Admin Router).
type Server struct {
	*Cluster
	// URL is the base URL, e.g. http://127.0.0.1:41234 (no trailing slash).
	URL string
	// Listener is the listening socket.
	Listener net.Listener

	srv  *http.Server
	done chan struct{}
}

// NewServer starts a cluster on 127.0.0.1 with a free port. It panics when
// no port can be opened, as httptest.NewServer does.
func NewServer(opts Options) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("sim: listening on 127.0.0.1: %v", err))
	}
	return Serve(New(opts), ln)
}

// Serve serves an existing cluster on ln until Close.
func Serve(c *Cluster, ln net.Listener) *Server {
	s := &Server{Cluster: c, URL: "http://" + ln.Addr().String(), Listener: ln,
		srv:  &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.WithError(err).Error("simulator server stopped")
		}
	}()
	return s
}

// Close stops serving (open connections, event streams included, are
// closed) and stops the cluster.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
	s.Cluster.Close()
}
