package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/universe-operator/universe-operator/sim"
	"github.com/universe-operator/universe-operator/sim/auth"
	"github.com/universe-operator/universe-operator/sim/marathon"
	"github.com/universe-operator/universe-operator/sim/mesos"
)

func init() { addCommand(newSimulateCmd) }

// simulateFlags are the flags of `universe-operator simulate`.
type simulateFlags struct {
	listen                 string
	deploymentDuration     time.Duration
	taskStageDuration      time.Duration
	healthDelay            time.Duration
	timeScale              float64
	agents                 int
	sdkStepDuration        time.Duration
	sdkUninstallDuration   time.Duration
	auth                   bool
	serviceAccounts        []string
	tokenTTL               time.Duration
	basicUser              string
	basicPasswordFile      string
	zookeeper              string
	dcosVersion            string
	shutdownTimeout        time.Duration
	frameworkAgents        int
	frameworkVolumeDiskMiB float64
}

// newSimulateCmd builds `universe-operator simulate`.
func newSimulateCmd() *cobra.Command {
	var f simulateFlags
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Serve a simulated DC/OS cluster: Marathon, Mesos master, SDK schedulers, login",
		Long: `Serve only the simulated cluster, laid out as DC/OS Admin Router lays it out:
Marathon at /service/marathon/ (and /marathon/), the Mesos master at /mesos/,
SDK schedulers at /service/<name>/, service-account login at
/acs/api/v1/auth/login, and the simulator's control API at /simulator/v1/.
Point a controller (or CI) at it as a stand-in cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.Context(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8081", "address to serve the cluster on (host:port; port 0 = any free port)")
	fl.DurationVar(&f.deploymentDuration, "deployment-duration", 3*time.Second, "how long a Marathon deployment takes")
	fl.DurationVar(&f.taskStageDuration, "task-stage-duration", time.Second, "how long a task stays TASK_STAGING")
	fl.DurationVar(&f.healthDelay, "health-delay", 0, "time from a task running to its first health result (0 = the check's delaySeconds, scaled by --time-scale)")
	fl.Float64Var(&f.timeScale, "time-scale", 1, "multiplier for durations app definitions give in seconds (0.01 = 100 times faster)")
	fl.IntVar(&f.agents, "agents", 3, "number of fake Mesos agents")
	fl.IntVar(&f.frameworkAgents, "framework-agents", 3, "agents a plain framework reserves resources and a volume on")
	fl.Float64Var(&f.frameworkVolumeDiskMiB, "framework-volume-disk", 1024, "MB of disk per agent a plain framework reserves for its persistent volume")
	fl.DurationVar(&f.sdkStepDuration, "sdk-step-duration", 2*time.Second, "how long one SDK deploy step takes")
	fl.DurationVar(&f.sdkUninstallDuration, "sdk-uninstall-step-duration", time.Second, "how long each SDK uninstall phase takes")
	fl.BoolVar(&f.auth, "auth", false, "require DC/OS authentication (Authorization: token=<jwt>) on Marathon, Mesos and SDK schedulers")
	fl.StringArrayVar(&f.serviceAccounts, "service-account", nil, "service account allowed to log in, as UID=PUBLIC_KEY_PEM_FILE (repeatable)")
	fl.DurationVar(&f.tokenTTL, "token-ttl", auth.DefaultTTL, "lifetime of issued authentication tokens")
	fl.StringVar(&f.basicUser, "basic-auth-user", "", "also accept HTTP basic auth with this user (needs --basic-auth-password-file)")
	fl.StringVar(&f.basicPasswordFile, "basic-auth-password-file", "", "file holding the basic auth password")
	fl.StringVar(&f.zookeeper, "zookeeper", "", "comma-separated ZooKeeper servers to keep service znodes in (default: in memory)")
	fl.StringVar(&f.dcosVersion, "dcos-version", "2.2.0", "DC/OS version reported by /dcos-metadata/dcos-version.json")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 5*time.Second, "how long to wait for open requests on SIGINT/SIGTERM")
	return cmd
}

// simulateOptions turns the flags into cluster options; every problem is
// reported (usage errors).
func simulateOptions(f simulateFlags) (sim.Options, error) {
	var problems []error
	if f.agents < 1 {
		problems = append(problems, usagef("--agents must be at least 1, got %d", f.agents))
	}
	if f.timeScale <= 0 {
		problems = append(problems, usagef("--time-scale must be positive, got %v", f.timeScale))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--deployment-duration", f.deploymentDuration}, {"--sdk-step-duration", f.sdkStepDuration},
		{"--sdk-uninstall-step-duration", f.sdkUninstallDuration}, {"--token-ttl", f.tokenTTL}} {
		if d.v <= 0 {
			problems = append(problems, usagef("%s must be positive, got %v", d.name, d.v))
		}
	}
	opts := sim.Options{
		Marathon: marathon.Options{Timing: marathon.Timing{DeploymentDuration: f.deploymentDuration,
			TaskStageDuration: f.taskStageDuration, HealthDelay: f.healthDelay, TimeScale: f.timeScale}},
		Mesos:              mesos.Options{Agents: f.agents},
		FrameworkAgents:    f.frameworkAgents,
		FrameworkResources: mesos.Resources{CPUs: 0.5, Mem: 512, Disk: f.frameworkVolumeDiskMiB},
		Auth:               auth.Options{Enabled: f.auth, TTL: f.tokenTTL},
		DCOSVersion:        f.dcosVersion,
	}
	opts.SDK.StepDuration, opts.SDK.UninstallStepDuration = f.sdkStepDuration, f.sdkUninstallDuration
	for _, sa := range f.serviceAccounts {
		uid, file, ok := strings.Cut(sa, "=")
		if !ok || uid == "" || file == "" {
			problems = append(problems, usagef("--service-account %q: want UID=PUBLIC_KEY_PEM_FILE", sa))
			continue
		}
		pemBytes, err := os.ReadFile(file)
		if err != nil {
			problems = append(problems, fmt.Errorf("--service-account %s: %w", uid, err))
			continue
		}
		key, err := auth.ParsePublicKeyPEM(pemBytes)
		if err != nil {
			problems = append(problems, fmt.Errorf("--service-account %s: %s: %w", uid, file, err))
			continue
		}
		opts.Auth.ServiceAccounts = append(opts.Auth.ServiceAccounts, auth.ServiceAccount{UID: uid, PublicKey: key})
	}
	if (f.basicUser == "") != (f.basicPasswordFile == "") {
		problems = append(problems, usagef("--basic-auth-user and --basic-auth-password-file go together"))
	} else if f.basicUser != "" {
		b, err := os.ReadFile(f.basicPasswordFile)
		if err != nil {
			problems = append(problems, fmt.Errorf("--basic-auth-password-file: %w", err))
		} else {
			opts.Auth.Basic = &auth.BasicCredentials{Username: f.basicUser, Password: strings.TrimRight(string(b), "\r\n")}
		}
	}
	return opts, errors.Join(problems...)
}

// runSimulate serves the simulated cluster until ctx ends or SIGINT/SIGTERM.
func runSimulate(ctx context.Context, stderr io.Writer, f simulateFlags) error {
	opts, err := simulateOptions(f)
	if err != nil {
		return err
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	opts.Log = log

	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if f.zookeeper != "" {
		conn, _, err := zk.Connect(strings.Split(f.zookeeper, ","), 10*time.Second, zk.WithLogger(zkLogger{log}))
		if err != nil {
			return fmt.Errorf("connecting to zookeeper %s: %w", f.zookeeper, err)
		}
		defer conn.Close()
		opts.ZooKeeper = sim.NewZooKeeperConn(conn)
	}

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", f.listen, err)
	}
	cluster := sim.New(opts)
	defer cluster.Close()
	srv := &http.Server{Handler: cluster.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	log.WithFields(logrus.Fields{"url": base, "agents": f.agents, "auth": f.auth,
		"deployment_duration": f.deploymentDuration.String()}).Info("simulated DC/OS cluster serving")
	for _, m := range []struct{ what, path string }{
		{"marathon", "/service/marathon/"}, {"marathon", "/marathon/"}, {"mesos master", "/mesos/"},
		{"mesos operator api", "/mesos/api/v1"}, {"sdk schedulers and service pages", "/service/<name>/"},
		{"login", auth.LoginPath}, {"control api", "/simulator/v1/"}, {"cluster summary", "/simulator/v1/state"},
	} {
		log.WithField("url", base+m.path).Infof("serving %s", m.what)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.Info("shutting down the simulated cluster")
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Event streams stay open until closed: cut what is left.
		log.WithError(err).Warn("closing connections still open after the shutdown timeout")
		_ = srv.Close()
	}
	<-served
	log.Info("simulated cluster stopped")
	return nil
}

// zkLogger routes the ZooKeeper client's log lines to logrus at debug level.
type zkLogger struct{ log logrus.FieldLogger }

// Printf implements zk.Logger.
func (l zkLogger) Printf(format string, args ...any) {
	l.log.WithField("component", "zookeeper").Debugf(format, args...)
}
