package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/universe-operator/universe-operator/clients/zookeeper"
	"github.com/universe-operator/universe-operator/errs"
	"github.com/universe-operator/universe-operator/internal/testenv"
)

func zkConnect(t *testing.T, addr, root string) *zookeeper.Client {
	t.Helper()
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetLevel(logrus.WarnLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := zookeeper.Connect(ctx, []string{addr}, zookeeper.WithRoot(root), zookeeper.WithLogger(l))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestZooKeeperConformance(t *testing.T) {
	zk := testenv.StartZooKeeper(t)
	var n atomic.Int64
	runConformance(t, func(t *testing.T) storage {
		root := fmt.Sprintf("/uo-%d", n.Add(1))
		return storage{open: func(t *testing.T) Store {
			// A new client (new session) every time: re-open = reconnect.
			return NewZooKeeper(zkConnect(t, zk.Addr, root))
		}}
	})
}

func TestZooKeeperLayout(t *testing.T) {
	zk := testenv.StartZooKeeper(t)
	ctx := context.Background()
	c := zkConnect(t, zk.Addr, "/universe-operator")
	s := NewZooKeeper(c)
	if _, err := s.Put(ctx, KindHistory, "kafka-prod", []byte(`[1]`), Create); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, KindHistory, "kafka-prod", []byte(`[1,2]`), 1); err != nil {
		t.Fatal(err)
	}
	raw := c.At("/")
	b, st, err := raw.Get(ctx, "/universe-operator/state/history/kafka-prod")
	if err != nil || string(b) != `[1,2]` || st.Version != 1 {
		t.Fatalf("znode = %q v%d %v", b, st.Version, err)
	}
	// A foreign child that is not a valid key is not listed.
	if _, err := raw.Create(ctx, "/universe-operator/state/history/Not_A_Key", nil, zookeeper.Persistent); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.List(ctx, KindHistory); err != nil || len(keys) != 1 || keys[0] != "kafka-prod" {
		t.Fatalf("list = %v %v", keys, err)
	}
}

// ZooKeeper down: operations fail as transient errors (retry with backoff)
// and nothing is lost; once it is back the same client works again.
func TestZooKeeperOutage(t *testing.T) {
	zk := testenv.StartZooKeeper(t)
	ctx := context.Background()
	s := NewZooKeeper(zkConnect(t, zk.Addr, "/uo"))
	if _, err := s.Put(ctx, KindCleanups, "kafka", []byte("pending"), Create); err != nil {
		t.Fatal(err)
	}
	zk.Stop()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err := s.Put(tctx, KindCleanups, "kafka", []byte("step-2"), 1)
	cancel()
	if err == nil || errs.ClassOf(err) != errs.ClassTransient || errors.Is(err, ErrConflict) {
		t.Fatalf("put while down: want a transient error, got %v", err)
	}
	if err := zk.Start(); err != nil {
		t.Fatal(err)
	}
	var v int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err = s.Put(tctx, KindCleanups, "kafka", []byte("step-2"), 1)
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || v != 2 {
		t.Fatalf("put after restart: %d %v", v, err)
	}
	got, v, err := s.Get(ctx, KindCleanups, "kafka")
	if err != nil || v != 2 || string(got) != "step-2" {
		t.Fatalf("get after restart: %q v%d %v", got, v, err)
	}
}
