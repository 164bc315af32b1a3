package state

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/universe-operator/universe-operator/clients/zookeeper"
	"github.com/universe-operator/universe-operator/errs"
)

// ZooKeeperStore is the Store in ZooKeeper: a record is the znode
// <client root>/state/<kind>/<key>, its data the value, and its version the
// znode's data version plus one, so compare-and-set is ZooKeeper's own
// conditional setData/create.
type ZooKeeperStore struct {
	c *zookeeper.Client
}

// NewZooKeeper returns a store on c (its root is normally the configured
// zookeeper.path). The caller keeps ownership of c.
func NewZooKeeper(c *zookeeper.Client) *ZooKeeperStore { return &ZooKeeperStore{c: c} }

// Close implements Store; the client stays open.
func (s *ZooKeeperStore) Close() error { return nil }

func znode(kind, key string) string { return "/state/" + kind + "/" + key }

// Get implements Store.
func (s *ZooKeeperStore) Get(ctx context.Context, kind, key string) ([]byte, int64, error) {
	if err := checkArgs(kind, key, nil, Any); err != nil {
		return nil, 0, err
	}
	b, st, err := s.c.Get(ctx, znode(kind, key))
	if errors.Is(err, zookeeper.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w: %s/%s", ErrNotFound, kind, key)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("state: get %s/%s: %w", kind, key, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, int64(st.Version) + 1, nil
}

// Put implements Store.
func (s *ZooKeeperStore) Put(ctx context.Context, kind, key string, value []byte, expect int64) (int64, error) {
	if err := checkArgs(kind, key, value, expect); err != nil {
		return 0, err
	}
	p := znode(kind, key)
	if value == nil {
		value = []byte{} // a nil znode value reads back as nil; keep "empty"
	}
	switch {
	case expect == Create:
		return s.create(ctx, kind, key, value)
	case expect > 0:
		if expect-1 > math.MaxInt32 {
			return 0, conflict(kind, key, expect, "a smaller version")
		}
		st, err := s.c.Set(ctx, p, value, int32(expect-1))
		switch {
		case errors.Is(err, zookeeper.ErrNotFound):
			return 0, conflict(kind, key, expect, "no record")
		case errors.Is(err, zookeeper.ErrBadVersion):
			return 0, conflict(kind, key, expect, "another version")
		case err != nil:
			return 0, fmt.Errorf("state: put %s/%s: %w", kind, key, err)
		}
		return int64(st.Version) + 1, nil
	}
	// Any: set, or create when missing; a concurrent create or delete
	// sends us round again.
	for attempt := 0; attempt < 10; attempt++ {
		st, err := s.c.Set(ctx, p, value, zookeeper.AnyVersion)
		if err == nil {
			return int64(st.Version) + 1, nil
		}
		if !errors.Is(err, zookeeper.ErrNotFound) {
			return 0, fmt.Errorf("state: put %s/%s: %w", kind, key, err)
		}
		v, err := s.create(ctx, kind, key, value)
		if !errors.Is(err, ErrConflict) {
			return v, err
		}
	}
	return 0, errs.Transient(fmt.Errorf("state: put %s/%s: record keeps appearing and disappearing", kind, key))
}

func (s *ZooKeeperStore) create(ctx context.Context, kind, key string, value []byte) (int64, error) {
	_, err := s.c.Create(ctx, znode(kind, key), value, zookeeper.Persistent)
	switch {
	case errors.Is(err, zookeeper.ErrExists):
		return 0, conflict(kind, key, Create, "a record")
	case err != nil:
		return 0, fmt.Errorf("state: put %s/%s: %w", kind, key, err)
	}
	return 1, nil
}

// Delete implements Store.
func (s *ZooKeeperStore) Delete(ctx context.Context, kind, key string) error {
	if err := checkArgs(kind, key, nil, Any); err != nil {
		return err
	}
	err := s.c.Delete(ctx, znode(kind, key), zookeeper.AnyVersion)
	if err == nil || errors.Is(err, zookeeper.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("state: delete %s/%s: %w", kind, key, err)
}

// List implements Store.
func (s *ZooKeeperStore) List(ctx context.Context, kind string) ([]string, error) {
	if err := validKind(kind); err != nil {
		return nil, err
	}
	kids, _, err := s.c.Children(ctx, "/state/"+kind)
	if errors.Is(err, zookeeper.ErrNotFound) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: list %s: %w", kind, err)
	}
	keys := []string{}
	for _, k := range kids {
		if validKey(k) == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}
