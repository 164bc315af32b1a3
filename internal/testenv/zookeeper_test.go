package testenv

import "testing"

func TestZooKeeperStartsAndRestarts(t *testing.T) {
	zk := StartZooKeeper(t)
	if !zk.ruok() {
		t.Fatal("zookeeper does not answer after start")
	}
	zk.Stop()
	if zk.ruok() {
		t.Fatal("zookeeper still answers after stop")
	}
	if err := zk.Start(); err != nil {
		t.Fatal(err)
	}
	if !zk.ruok() {
		t.Fatal("zookeeper does not answer after restart")
	}
}
