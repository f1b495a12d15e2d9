// Package postgres runs a real PostgreSQL 15 (Debian's binaries, in
// /usr/lib/postgresql/15/bin or $BULWARK_PG_BIN) on loopback for tests:
// initdb in a new temp dir, the server on 127.0.0.1 with a free port and
// its unix socket in that dir, trust authentication, durability off for
// speed. PostgreSQL refuses to run as root: as root the dir is chowned to
// the `postgres` user and both programs run as it. .ci/install-deps
// installs Debian's postgresql; a missing binary fails the test under CI
// (CI=true) and skips it elsewhere.
//
// A package's tests share one server and take a fresh database each:
//
//	var pg postgres.Shared
//	func TestMain(m *testing.M) { code := m.Run(); pg.Close(); os.Exit(code) }
//	func TestX(t *testing.T) { dsn := pg.Database(t); ... }
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// DefaultBinDir is where Debian's postgresql-15 keeps its programs.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// BinDir returns the directory of initdb and postgres: $BULWARK_PG_BIN or
// DefaultBinDir. Missing, it fails the test under CI and skips it elsewhere.
func BinDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("BULWARK_PG_BIN")
	if dir == "" {
		dir = DefaultBinDir
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
		msg := fmt.Sprintf("PostgreSQL 15 not found in %s: apt-get install postgresql (or run .ci/install-deps)", dir)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// Server is a running PostgreSQL.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string

	bin, dir string
	cred     *syscall.Credential // nil unless running as root
	cmd      *exec.Cmd
	exited   chan struct{}
	admin    *sql.DB

	mu sync.Mutex
	n  int // databases made
}

// Start initialises a cluster in a new temp dir and starts it; Close stops
// it and removes the dir.
func Start(ctx context.Context, binDir string) (*Server, error) {
	dir, err := os.MkdirTemp("", "bulwark-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: binDir, dir: dir}
	if err := s.init(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for try := 0; ; try++ {
		if s.Addr, err = freeAddr(); err != nil {
			break
		}
		if err = s.Resume(ctx); err == nil || try == 3 || !strings.Contains(err.Error(), "could not bind") {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if s.admin, err = sql.Open("pgx", s.DSN("postgres")); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// init runs initdb, as the postgres user when running as root.
func (s *Server) init(ctx context.Context) error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("postgres: running as root needs a postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	cmd := s.command(ctx, "initdb", "-D", s.data(), "-U", "bulwark", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("postgres: initdb: %w: %s", err, out)
	}
	return nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// command prepares one of the PostgreSQL programs, as the postgres user
// when running as root, killed if this process dies.
func (s *Server) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Resume starts the server (again) on its address and waits until it
// accepts connections.
func (s *Server) Resume(ctx context.Context) error {
	host, port, _ := net.SplitHostPort(s.Addr)
	logPath := filepath.Join(s.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer logf.Close()
	// Not tied to ctx: the server outlives the call that starts it.
	cmd := s.command(context.Background(), "postgres", "-D", s.data(), "-p", port,
		"-c", "listen_addresses="+host, "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(s.exited)
	db, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err = db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres: exited at start: %s", b)
		case <-ctx.Done():
			s.Pause()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Pause()
			return fmt.Errorf("postgres: not accepting connections on %s after 30s: %w", s.Addr, err)
		}
	}
}

// Pause stops the server (a fast shutdown: connections are cut), keeping
// its data for Resume.
func (s *Server) Pause() error {
	if s.cmd == nil {
		return nil
	}
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	return nil
}

// Close stops the server and removes its files.
func (s *Server) Close() error {
	if s.admin != nil {
		s.admin.Close()
	}
	err := s.Pause()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// DSN is the URL of database db as the superuser "bulwark".
func (s *Server) DSN(db string) string {
	return "postgres://bulwark@" + s.Addr + "/" + db + "?sslmode=disable"
}

// NewDatabase creates an empty database, dropped when the test ends, and
// returns its DSN.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("t%d", s.n)
	s.mu.Unlock()
	if _, err := s.admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("postgres: create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Logf("postgres: drop database %s: %v", name, err)
		}
	})
	return s.DSN(name)
}

// Shared is one server for a package's tests, started on first use.
type Shared struct {
	once sync.Once
	s    *Server
	err  error
}

// Server returns the shared server, starting it the first time.
func (sh *Shared) Server(t testing.TB) *Server {
	t.Helper()
	bin := BinDir(t)
	sh.once.Do(func() { sh.s, sh.err = Start(context.Background(), bin) })
	if sh.err != nil {
		t.Fatal(sh.err)
	}
	return sh.s
}

// Database returns the DSN of a fresh database on the shared server.
func (sh *Shared) Database(t testing.TB) string {
	t.Helper()
	return sh.Server(t).NewDatabase(t)
}

// Close stops the shared server if it was started.
func (sh *Shared) Close() {
	if sh.s != nil {
		sh.s.Close()
	}
}

// freeAddr is a loopback address with a free port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// New starts a server of the test's own, closed when it ends (about
// 2-10 s for initdb and start: share one with Shared where tests can).
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start(context.Background(), BinDir(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
