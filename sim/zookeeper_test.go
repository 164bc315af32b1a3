package sim

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/universe-operator/universe-operator/internal/testenv"
)

// TestRealZooKeeper runs the ZooKeeper checks against a real server and
// shows an SDK uninstall wiping its node there.
func TestRealZooKeeper(t *testing.T) {
	server := testenv.StartZooKeeper(t)
	conn, _, err := zk.Connect([]string{server.Addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	z := NewZooKeeperConn(conn)
	testZooKeeper(t, z)

	opts := FastOptions()
	opts.ZooKeeper = z
	s := NewServer(opts)
	defer s.Close()
	c := &client{t: t, base: s.URL}
	labels := map[string]string{"DCOS_SERVICE_NAME": "zk-svc", "DCOS_PACKAGE_FRAMEWORK_NAME": "zk-svc", "DCOS_COMMONS_UNINSTALL": "true"}
	if code, _, body := c.do("POST", "/service/marathon/v2/apps", appJSON("/zk-svc", labels, nil)); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	eventually(t, "the znode in the real ZooKeeper", func() bool {
		ok, _, err := conn.Exists("/dcos-service-zk-svc/FrameworkID")
		return err == nil && ok
	})
	if code, _, body := c.do("GET", "/simulator/v1/zookeeper/znodes", nil); code != http.StatusOK || string(body) == "" {
		t.Errorf("znodes: %d %s", code, body)
	}
	eventually(t, "deploy complete", func() bool {
		code, _, _ := c.do("GET", "/service/zk-svc/v1/plans/deploy", nil)
		return code == 200
	})
	code, _, body := c.do("PUT", "/service/marathon/v2/apps/zk-svc?force=true",
		appJSON("/zk-svc", labels, map[string]string{"SDK_UNINSTALL": "true"}))
	if code != 200 {
		t.Fatalf("put: %d %s", code, body)
	}
	eventually(t, "the znode wiped by the uninstall", func() bool {
		ok, _, err := conn.Exists("/dcos-service-zk-svc")
		return err == nil && !ok
	})
}
