package sim

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"

	"github.com/universe-operator/universe-operator/sim/sdk"
)

// ZooKeeper is where the simulated services keep their ZooKeeper state: the
// SDK schedulers' /dcos-service-<name> nodes and those written for plain
// frameworks. The simulator records it in memory by default (MemZooKeeper);
// NewZooKeeperConn writes it to a real ZooKeeper instead, so a janitor that
// deletes nodes there is seen by the simulator.
type ZooKeeper interface {
	sdk.ZooKeeper
	// Get returns a node's data; ok is false when the node does not exist.
	Get(path string) (data []byte, ok bool, err error)
	// Children returns the names of a node's children, sorted (nil when
	// the node does not exist).
	Children(path string) ([]string, error)
}

// MemZooKeeper is an in-memory ZooKeeper tree. The zero value is not ready;
// use NewMemZooKeeper.
type MemZooKeeper struct {
	mu    sync.Mutex
	nodes map[string][]byte
}

// NewMemZooKeeper returns an empty tree holding only "/".
func NewMemZooKeeper() *MemZooKeeper {
	return &MemZooKeeper{nodes: map[string][]byte{"/": nil}}
}

// cleanPath validates and normalizes a ZooKeeper path.
func cleanPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("invalid znode path %q: must start with /", p)
	}
	c := path.Clean(p)
	if c != p && c+"/" != p {
		return "", fmt.Errorf("invalid znode path %q", p)
	}
	return c, nil
}

// Create writes data at p, creating missing parents.
func (z *MemZooKeeper) Create(p string, data []byte) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
		if _, ok := z.nodes[dir]; !ok {
			z.nodes[dir] = nil
		}
	}
	z.nodes[p] = append([]byte(nil), data...)
	return nil
}

// DeleteAll deletes p and everything below it.
func (z *MemZooKeeper) DeleteAll(p string) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	if p == "/" {
		return errors.New("refusing to delete /")
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for n := range z.nodes {
		if n == p || strings.HasPrefix(n, p+"/") {
			delete(z.nodes, n)
		}
	}
	return nil
}

// Get returns a node's data.
func (z *MemZooKeeper) Get(p string) ([]byte, bool, error) {
	p, err := cleanPath(p)
	if err != nil {
		return nil, false, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	d, ok := z.nodes[p]
	return append([]byte(nil), d...), ok, nil
}

// Children returns the names of p's children.
func (z *MemZooKeeper) Children(p string) ([]string, error) {
	p, err := cleanPath(p)
	if err != nil {
		return nil, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if _, ok := z.nodes[p]; !ok {
		return nil, nil
	}
	out := []string{}
	for n := range z.nodes {
		if n != "/" && path.Dir(n) == p {
			out = append(out, path.Base(n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// zkConn is ZooKeeper on a real ensemble.
type zkConn struct{ conn *zk.Conn }

// NewZooKeeperConn returns a ZooKeeper that reads and writes the nodes on a
// real ZooKeeper through conn (world-readable and -writable nodes, as DC/OS
// services create them). The caller keeps ownership of conn.
func NewZooKeeperConn(conn *zk.Conn) ZooKeeper { return &zkConn{conn: conn} }

// Create writes data at p, creating missing parents.
func (z *zkConn) Create(p string, data []byte) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := 1; i < len(parts); i++ {
		dir := "/" + strings.Join(parts[:i], "/")
		if _, err := z.conn.Create(dir, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("creating znode %s: %w", dir, err)
		}
	}
	_, err = z.conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNodeExists) {
		_, err = z.conn.Set(p, data, -1)
	}
	if err != nil {
		return fmt.Errorf("writing znode %s: %w", p, err)
	}
	return nil
}

// DeleteAll deletes p and everything below it.
func (z *zkConn) DeleteAll(p string) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	if p == "/" {
		return errors.New("refusing to delete /")
	}
	children, _, err := z.conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing znode %s: %w", p, err)
	}
	for _, c := range children {
		if err := z.DeleteAll(path.Join(p, c)); err != nil {
			return err
		}
	}
	if err := z.conn.Delete(p, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("deleting znode %s: %w", p, err)
	}
	return nil
}

// Get returns a node's data.
func (z *zkConn) Get(p string) ([]byte, bool, error) {
	p, err := cleanPath(p)
	if err != nil {
		return nil, false, err
	}
	data, _, err := z.conn.Get(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading znode %s: %w", p, err)
	}
	return data, true, nil
}

// Children returns the names of p's children.
func (z *zkConn) Children(p string) ([]string, error) {
	p, err := cleanPath(p)
	if err != nil {
		return nil, err
	}
	children, _, err := z.conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing znode %s: %w", p, err)
	}
	sort.Strings(children)
	return children, nil
}
