package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// zkJars are the classpath entries of Debian's zookeeper package.
var zkJars = []string{"/etc/zookeeper/conf", "/usr/share/java/zookeeper.jar"}

// ZooKeeper is a real standalone ZooKeeper server on loopback, started from
// Debian's zookeeper package for one test.
type ZooKeeper struct {
	// Addr is host:port of the client port.
	Addr string
	cmd  *exec.Cmd
	dir  string
	port int
}

// StartZooKeeper starts a fresh ZooKeeper on a free loopback port and stops it
// when the test ends. It skips (or fails on CI) when Java or the package is
// missing.
func StartZooKeeper(t testing.TB) *ZooKeeper {
	t.Helper()
	Binary(t, "java")
	if _, err := os.Stat(zkJars[1]); err != nil {
		Missing(t, "ZooKeeper is not installed (apt-get install zookeeper)")
	}
	port := freePort(t)
	zk := &ZooKeeper{dir: t.TempDir(), port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	if err := zk.Start(); err != nil {
		t.Fatalf("start zookeeper: %v", err)
	}
	t.Cleanup(zk.Stop)
	return zk
}

// Start (re)starts the server on the same port and data directory and waits
// until it answers.
func (z *ZooKeeper) Start() error {
	cfg := filepath.Join(z.dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\n"+
		"clientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxSessionTimeout=60000\nminSessionTimeout=1000\n",
		filepath.Join(z.dir, "data"), z.port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(z.dir, "zookeeper.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command("java", "-Xmx128m", "-cp", strings.Join(zkJars, ":"),
		"org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	z.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if z.ruok() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	z.Stop()
	return fmt.Errorf("zookeeper on %s did not answer within 30s (log in %s)", z.Addr, log.Name())
}

// Stop kills the server (the data directory is kept for Start).
func (z *ZooKeeper) Stop() {
	if z.cmd == nil || z.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
	_ = z.cmd.Wait()
	z.cmd = nil
}

// ruok reports whether the server answers the "srvr" four-letter word.
func (z *ZooKeeper) ruok() bool {
	c, err := net.DialTimeout("tcp", z.Addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "Zookeeper version")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
