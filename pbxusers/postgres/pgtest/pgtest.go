// Package pgtest starts a throwaway PostgreSQL server for tests and hands out
// fresh, empty databases on it.
//
// Start looks for the server programs (initdb, postgres) on PATH and in
// Debian's /usr/lib/postgresql/<version>/bin, runs initdb into the test's
// temp dir and starts postgres on 127.0.0.1 and a free port, as a child of
// the test process; the test's cleanup stops it. When the test runs as root
// (CI containers), both programs run as the unprivileged "postgres" system
// user that Debian's package creates, since PostgreSQL refuses to run as
// root. Install the programs with
//
//	apt-get install -y postgresql
//
// (the package's own system service is not used). To use an existing server
// instead, set PBXGATE_POSTGRES_DSN to a connection string of a role that may
// create databases, e.g.
//
//	PBXGATE_POSTGRES_DSN='postgres://pbxgate@127.0.0.1:5432/postgres' go test ./pbxusers/postgres/
//
// Without either, the tests skip and say so.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable that points the tests at an
// existing server instead of a throwaway one.
const EnvDSN = "PBXGATE_POSTGRES_DSN"

// Defaults of the throwaway server.
const (
	// DefaultStartTimeout bounds how long Start waits for the server to
	// accept connections.
	DefaultStartTimeout = 60 * time.Second
	// DefaultStopTimeout bounds how long the cleanup waits for a fast
	// shutdown before it kills the server.
	DefaultStopTimeout = 20 * time.Second
)

// Config tunes StartServer. The zero value is the fast, non-durable server
// the conformance tests use.
type Config struct {
	// Durable keeps fsync on, so a commit is on disk before it is
	// acknowledged: required for write throughput figures. The default turns
	// fsync and full_page_writes off, which is fine for correctness tests
	// (a crash of the throwaway server loses nothing anyone needs) and makes
	// them several times faster.
	Durable bool
}

// ErrNotInstalled is returned by Launch when PostgreSQL's server programs
// are not installed and PBXGATE_POSTGRES_DSN is not set.
var ErrNotInstalled = errors.New("PostgreSQL server programs not found (install them with `apt-get install -y postgresql`) and " + EnvDSN + " not set")

// Server is a running PostgreSQL server: a throwaway one started by
// StartServer or Launch, or the one PBXGATE_POSTGRES_DSN names.
type Server struct {
	// DSN connects to the server's maintenance database ("postgres") as a
	// role that may create databases.
	DSN  string
	n    atomic.Int64
	stop func()
}

// Start starts a throwaway server (or uses PBXGATE_POSTGRES_DSN), creates a
// fresh, empty database on it and returns its connection string. The test
// skips when neither PostgreSQL's programs nor the variable are there.
func Start(t testing.TB) (dsn string) {
	t.Helper()
	return StartServer(t, Config{}).NewDatabase(t)
}

// StartServer starts a throwaway server with the given configuration in the
// test's temp dir, or returns the server PBXGATE_POSTGRES_DSN names. The
// server stops when the test ends. The test skips when neither PostgreSQL's
// programs nor the variable are there.
func StartServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return &Server{DSN: dsn}
	}
	bin, err := findBin()
	if err != nil {
		t.Skipf("%v: %v", ErrNotInstalled, err)
	}
	srv, err := launch(bin, t.TempDir(), cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// Launch starts a throwaway server outside any one test, for fixtures that
// several tests or benchmarks share (build it lazily, stop it in TestMain).
// Its files live in a new temp dir that Stop removes. With
// PBXGATE_POSTGRES_DSN set it returns that server. It returns
// ErrNotInstalled when there is neither.
func Launch(cfg Config) (*Server, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return &Server{DSN: dsn}, nil
	}
	bin, err := findBin()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	dir, err := os.MkdirTemp("", "pbxgate-pg-")
	if err != nil {
		return nil, fmt.Errorf("create server directory: %w", err)
	}
	srv, err := launch(bin, dir, cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop := srv.stop
	srv.stop = func() { stop(); os.RemoveAll(dir) }
	return srv, nil
}

// Stop stops a throwaway server; it does nothing for the server
// PBXGATE_POSTGRES_DSN names.
func (s *Server) Stop() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// launch runs initdb into dir and starts postgres.
func launch(bin, dir string, cfg Config) (*Server, error) {
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		var err error
		if cred, err = unprivileged(dir); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "pbxgate", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Env = serverEnv()
	initdb.SysProcAttr = procAttr(cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A port taken between probing and binding makes postgres exit at once;
	// try a few ports.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		srv, err := startPostgres(bin, dir, data, port, cred, cfg)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("start postgres: %w", lastErr)
}

// NewDatabase creates a fresh, empty database on the server and returns its
// connection string. It is dropped when the test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	dsn, drop, err := s.CreateDatabase(context.Background())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return dsn
}

// CreateDatabase creates a fresh, empty database on the server and returns
// its connection string and a function that drops it.
func (s *Server) CreateDatabase(ctx context.Context) (dsn string, drop func() error, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	name := fmt.Sprintf("pbxgate_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, s.n.Add(1))
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return "", nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.DSN)
		if err != nil {
			return nil // the server is gone already
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	dsn, err = withDatabase(s.DSN, name)
	if err != nil {
		drop()
		return "", nil, err
	}
	return dsn, drop, nil
}

// withDatabase returns dsn with its database replaced by name. Both URL and
// keyword/value connection strings are accepted.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvDSN, err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	var kept []string
	for _, f := range strings.Fields(dsn) {
		if !strings.HasPrefix(f, "dbname=") {
			kept = append(kept, f)
		}
	}
	return strings.Join(append(kept, "dbname="+name), " "), nil
}

func startPostgres(bin, dir, data string, port int, cred *syscall.Credential, cfg Config) (*Server, error) {
	args := []string{"-D", data, "-k", dir, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "max_connections=200", "-c", "shared_buffers=128MB"}
	if !cfg.Durable {
		// Not durable: a crash of this throwaway server may lose commits.
		// Fine for correctness tests, never for durability or throughput
		// figures (Config.Durable).
		args = append(args, "-F", "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create server log: %w", err)
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	// In the test's process group, so a Ctrl-C of the test run stops the
	// server too.
	cmd.SysProcAttr = procAttr(cred)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	stop := func() {
		// SIGINT is PostgreSQL's fast shutdown: roll back, checkpoint, exit.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(DefaultStopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	dsn := fmt.Sprintf("postgres://pbxgate@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(DefaultStartTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("postgres exited: %v\n%s", err, tail(logPath))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("postgres not ready after %s: %v\n%s", DefaultStartTimeout, err, tail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &Server{DSN: dsn, stop: stop}, nil
}

// findBin returns the directory holding initdb and postgres: PATH first,
// then the newest /usr/lib/postgresql/<version>/bin.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no initdb on PATH or in /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// unprivileged returns the credential of Debian's "postgres" system user and
// hands dir over to it: PostgreSQL refuses to run as root.
func unprivileged(dir string) (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the unprivileged postgres user (apt-get install postgresql creates it): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse uid of postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse gid of postgres: %w", err)
	}
	if err := os.Chown(dir, int(uid), int(gid)); err != nil {
		return nil, fmt.Errorf("hand %s to postgres: %w", dir, err)
	}
	// t.TempDir's parent is private to root; postgres only needs to pass
	// through it. (os.TempDir itself is open to everyone.)
	if parent := filepath.Dir(dir); parent != filepath.Clean(os.TempDir()) {
		if err := os.Chmod(parent, 0o711); err != nil {
			return nil, fmt.Errorf("open %s to postgres: %w", parent, err)
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// serverEnv is the environment of initdb and postgres: the test's own,
// with a fixed locale.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=") || strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of the server log, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
