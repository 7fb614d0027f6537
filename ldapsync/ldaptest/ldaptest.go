// Package ldaptest starts a throwaway OpenLDAP slapd for a test, as the
// test's own process on a free 127.0.0.1 port, with its database in the
// test's temp dir, and kills it when the test ends.
//
// It needs the slapd and slapadd programs (Debian/Ubuntu:
// `apt-get install -y slapd ldap-utils`; the packages' own daemon is not
// used and may stay stopped). Without them Start skips the test. To run the
// tests against an existing server instead, set PBXGATE_LDAP_URL,
// PBXGATE_LDAP_BIND_DN, PBXGATE_LDAP_BIND_PASSWORD and PBXGATE_LDAP_BASE_DN;
// each test then works in its own OU below the base DN, which is deleted
// afterwards. That server needs the schema in testdata/pbxgate-test.schema
// for AstExtension.
//
// Each local server has the suffix Suffix, the rootdn cn=admin,<Suffix>
// (password RootPassword), ou=people and ou=groups, and a service account
// cn=sync,<Suffix> (password SyncPassword) for the code under test. slapd
// keeps its default size limit (500 entries per search, paged or not) unless
// Options say otherwise, so tests see what production servers do.
package ldaptest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Environment variables that point the tests at an existing server.
const (
	// EnvURL is the server's URL, e.g. ldap://127.0.0.1:389.
	EnvURL = "PBXGATE_LDAP_URL"
	// EnvBindDN is a DN that may add and delete entries below EnvBaseDN.
	EnvBindDN = "PBXGATE_LDAP_BIND_DN"
	// EnvBindPassword is EnvBindDN's password.
	EnvBindPassword = "PBXGATE_LDAP_BIND_PASSWORD"
	// EnvBaseDN is where each test creates its own OU.
	EnvBaseDN = "PBXGATE_LDAP_BASE_DN"
)

// Fixed names and passwords of a local server.
const (
	// Suffix is the naming context of a local server.
	Suffix = "dc=example,dc=org"
	// RootPassword is the password of cn=admin,<Suffix>.
	RootPassword = "admin-secret"
	// SyncPassword is the password of cn=sync,<Suffix>.
	SyncPassword = "sync-secret"
)

// startupTimeout bounds the wait for slapd to accept a bind.
const startupTimeout = 15 * time.Second

//go:embed testdata/pbxgate-test.schema
var testSchema []byte

// Options configure a local server.
type Options struct {
	// SizeLimit is slapd's global sizelimit: the most entries one search
	// returns to anyone but the rootdn, counting all pages of a paged
	// search. 0 keeps slapd's default, 500; -1 means unlimited.
	SizeLimit int
	// UnlimitedSync gives the sync account
	// `limits dn.exact="cn=sync,..." size.soft=unlimited size.hard=unlimited size.prtotal=unlimited`,
	// which is what deployments must configure for the sync to page through
	// more than the size limit. Without it the sync account is capped like
	// everyone else.
	UnlimitedSync bool
	// Bulk, if set, writes LDIF that slapadd loads before slapd starts: no
	// server round trips, so 100,000 users take seconds. Its entries go
	// below the base entries (baseDN, ou=people, ou=groups, cn=sync).
	// slapadd generates entryUUID and the timestamps.
	Bulk func(w io.Writer, baseDN string) error
	// Local marks a test that needs its own slapd (it kills it, or relies on
	// its limits). With PBXGATE_LDAP_URL set such a test is skipped, as is
	// one with SizeLimit or Bulk set.
	Local bool
}

// Server is a running directory for one test.
type Server struct {
	// URL is ldap://127.0.0.1:<port> (or PBXGATE_LDAP_URL).
	URL string
	// BaseDN is the root of this test's entries: Suffix locally, an OU made
	// for the test on an existing server.
	BaseDN string
	// PeopleDN is ou=people,<BaseDN>.
	PeopleDN string
	// GroupsDN is ou=groups,<BaseDN>.
	GroupsDN string
	// RootDN and RootPassword may write everything (the rootdn locally).
	RootDN, RootPassword string
	// SyncDN and SyncPassword are the account the code under test binds as
	// (the bind account from the environment on an existing server).
	SyncDN, SyncPassword string
	// Dir is the server's directory (config, database, log); "" for an
	// existing server.
	Dir string

	cmd   *exec.Cmd
	done  chan struct{} // closed when slapd has exited
	admin *ldap.Conn
	slapd string // the slapd program, for Restart
	conf  string // its slapd.conf
	runs  int    // slapd processes started, to name their logs
}

// Start starts a slapd for t (or prepares an OU on PBXGATE_LDAP_URL) and
// arranges for it to be killed and removed when t ends. It skips t when
// slapd is not installed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if url := os.Getenv(EnvURL); url != "" {
		return startExternal(t, url, opts)
	}
	bins, err := findInstallation()
	if err != nil {
		t.Skipf("%v: install OpenLDAP (Debian/Ubuntu: apt-get install -y slapd ldap-utils) "+
			"or set %s, %s, %s and %s to use an existing server", err, EnvURL, EnvBindDN, EnvBindPassword, EnvBaseDN)
	}
	s := &Server{
		BaseDN:       Suffix,
		PeopleDN:     "ou=people," + Suffix,
		GroupsDN:     "ou=groups," + Suffix,
		RootDN:       "cn=admin," + Suffix,
		RootPassword: RootPassword,
		SyncDN:       "cn=sync," + Suffix,
		SyncPassword: SyncPassword,
		Dir:          t.TempDir(),
	}
	conf := filepath.Join(s.Dir, "slapd.conf")
	if err := os.MkdirAll(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "pbxgate-test.schema"), testSchema, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(s.slapdConf(bins, opts)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.slapadd(bins.slapadd, conf, opts.Bulk); err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	t.Cleanup(s.stop)
	s.slapd, s.conf = bins.slapd, conf
	const attempts = 3 // another process may take the free port before slapd binds it
	for attempt := 1; attempt <= attempts; attempt++ {
		err := s.start("")
		if err == nil {
			return s
		}
		if attempt == attempts || !errors.Is(err, errPortTaken) {
			t.Fatalf("ldaptest: %v%s", err, appArmorHint())
		}
	}
	return s
}

// installation is where OpenLDAP's programs, modules and schemas are.
type installation struct {
	slapd, slapadd string
	moduleDir      string // "" when back_mdb is built in
	ppolicy        bool   // the ppolicy module is there
	schemaDir      string
}

func findInstallation() (installation, error) {
	var in installation
	find := func(name string, dirs ...string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
		return ""
	}
	sbin := []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/libexec"}
	if in.slapd = find("slapd", sbin...); in.slapd == "" {
		return in, errors.New("slapd not found in PATH or " + strings.Join(sbin, ", "))
	}
	if in.slapadd = find("slapadd", sbin...); in.slapadd == "" {
		return in, errors.New("slapadd not found in PATH or " + strings.Join(sbin, ", "))
	}
	for _, d := range []string{"/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/libexec/openldap", "/usr/local/libexec/openldap"} {
		if _, err := os.Stat(filepath.Join(d, "back_mdb.la")); err == nil {
			in.moduleDir = d
			_, err := os.Stat(filepath.Join(d, "ppolicy.la"))
			in.ppolicy = err == nil
			break
		}
	}
	for _, d := range []string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema"} {
		if _, err := os.Stat(filepath.Join(d, "inetorgperson.schema")); err == nil {
			in.schemaDir = d
			break
		}
	}
	if in.schemaDir == "" {
		return in, errors.New("OpenLDAP schema files (inetorgperson.schema) not found")
	}
	return in, nil
}

// slapdConf returns the server's slapd.conf.
func (s *Server) slapdConf(in installation, opts Options) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# generated by ldaptest for one test; see %s/slapd.log", s.Dir)
	for _, f := range []string{"core", "cosine", "nis", "inetorgperson"} {
		w("include %q", filepath.Join(in.schemaDir, f+".schema"))
	}
	w("include %q", filepath.Join(s.Dir, "pbxgate-test.schema"))
	if in.moduleDir != "" {
		w("modulepath %q", in.moduleDir)
		w("moduleload back_mdb")
		if in.ppolicy {
			w("moduleload ppolicy") // brings pwdAccountLockedTime, for the OpenLDAP disabled filter
		}
	}
	w("pidfile %q", filepath.Join(s.Dir, "slapd.pid"))
	w("argsfile %q", filepath.Join(s.Dir, "slapd.args"))
	w("loglevel none") // errors are still logged; -d none sends them to slapd.log
	switch {
	case opts.SizeLimit < 0:
		w("sizelimit unlimited")
	case opts.SizeLimit > 0:
		w("sizelimit %d", opts.SizeLimit)
	}
	w("database mdb")
	w("maxsize %d", 4<<30) // address space, not disk: 100k users take ~200 MB
	w("suffix %q", Suffix)
	w("rootdn %q", s.RootDN)
	w("rootpw %s", RootPassword)
	w("directory %q", filepath.Join(s.Dir, "db"))
	if opts.UnlimitedSync {
		w(`limits dn.exact=%q size.soft=unlimited size.hard=unlimited size.prtotal=unlimited`, s.SyncDN)
	}
	w("index objectClass eq")
	w("index entryUUID eq")
	w("index uid eq")
	w("access to attrs=userPassword by self write by anonymous auth by * none")
	w("access to * by users read by * none")
	if in.moduleDir != "" && in.ppolicy {
		w("overlay ppolicy")
	}
	return b.String()
}

// baseLDIF returns the entries every local server starts with.
func (s *Server) baseLDIF() string {
	return fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
dc: example
o: pbxgate test

dn: %s
objectClass: organizationalUnit
ou: people

dn: %s
objectClass: organizationalUnit
ou: groups

dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: sync
userPassword: %s

`, Suffix, s.PeopleDN, s.GroupsDN, s.SyncDN, SyncPassword)
}

// slapadd loads the base entries and the bulk LDIF into the stopped server.
func (s *Server) slapadd(slapadd, conf string, bulk func(io.Writer, string) error) error {
	cmd := exec.Command(slapadd, "-q", "-f", conf)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapadd: %w", err)
	}
	w := bufio.NewWriterSize(stdin, 1<<16)
	_, werr := io.WriteString(w, s.baseLDIF())
	if werr == nil && bulk != nil {
		werr = bulk(w, s.BaseDN)
	}
	if werr == nil {
		werr = w.Flush()
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("slapadd: %w\n%s", err, out.Bytes())
	}
	if werr != nil {
		return fmt.Errorf("write LDIF to slapadd: %w", werr)
	}
	return nil
}

var errPortTaken = errors.New("port taken")

// start runs slapd in the foreground (-d none) on url, or on a free
// loopback port when url is "", and waits until it accepts a bind.
func (s *Server) start(url string) error {
	slapd, conf := s.slapd, s.conf
	if url == "" {
		port, err := freePort()
		if err != nil {
			return err
		}
		url = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	}
	s.runs++
	logPath := filepath.Join(s.Dir, fmt.Sprintf("slapd-%d.log", s.runs))
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// -d keeps slapd in the foreground as our child (no fork, no pid games);
	// -h limits it to one loopback listener; no -u/-g: it runs as the test's
	// user, which owns s.Dir.
	cmd := exec.Command(slapd, "-f", conf, "-h", url+"/", "-d", "none")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", slapd, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.URL = cmd, done, url
	deadline := time.Now().Add(startupTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(logPath)
			if bytes.Contains(log, []byte("Address already in use")) {
				return fmt.Errorf("%w: %s", errPortTaken, url)
			}
			return fmt.Errorf("slapd exited during startup (%s):\n%s", cmd.ProcessState, log)
		case <-time.After(20 * time.Millisecond):
		}
		if s.ping() == nil {
			return nil
		}
	}
	s.stop()
	log, _ := os.ReadFile(logPath)
	return fmt.Errorf("slapd did not accept a bind on %s within %s:\n%s", url, startupTimeout, log)
}

// ping binds as the rootdn.
func (s *Server) ping() error {
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetTimeout(time.Second)
	return conn.Bind(s.RootDN, s.RootPassword)
}

// stop kills slapd and waits for it to exit.
func (s *Server) stop() {
	if s.admin != nil {
		_ = s.admin.Close()
		s.admin = nil
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Kill kills slapd at once (SIGKILL), as a crash or a network cut would,
// and waits for it to exit. Only for local servers (Options.Local).
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatal("ldaptest: Kill needs a local server; start it with Options.Local")
	}
	s.stop()
}

// Restart starts slapd again after Kill, on the same URL and with the same
// database, as a directory coming back after an outage does. Only for local
// servers (Options.Local).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatal("ldaptest: Restart needs a local server; start it with Options.Local")
	}
	s.stop()
	var err error
	// The port was ours a moment ago; a connection in TIME_WAIT or another
	// process may hold it briefly.
	for attempt := 1; attempt <= 20; attempt++ {
		if err = s.start(s.URL); err == nil || !errors.Is(err, errPortTaken) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ldaptest: restart: %v", err)
	}
}

// External reports whether s is an existing server from PBXGATE_LDAP_URL.
func (s *Server) External() bool { return s.Dir == "" }

// Conn returns a new connection bound as RootDN, closed when t ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	conn, err := s.dialRoot()
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (s *Server) dialRoot() (*ldap.Conn, error) {
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", s.URL, err)
	}
	conn.SetTimeout(30 * time.Second)
	if err := conn.Bind(s.RootDN, s.RootPassword); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("bind %q: %w", s.RootDN, err)
	}
	return conn, nil
}

// AddLDIF adds the entries of an LDIF text (add records only: "dn:",
// "attr: value", "attr:: base64", folded lines, comments) over the
// network, in order, as RootDN.
func (s *Server) AddLDIF(t testing.TB, ldif string) {
	t.Helper()
	reqs, err := parseLDIF(ldif)
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	if s.admin == nil {
		if s.admin, err = s.dialRoot(); err != nil {
			t.Fatalf("ldaptest: %v", err)
		}
	}
	for _, r := range reqs {
		if err := s.admin.Add(r); err != nil {
			t.Fatalf("ldaptest: add %q: %v", r.DN, err)
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// appArmorHint explains a startup failure on hosts where AppArmor confines
// slapd to its packaged paths (Ubuntu's usr.sbin.slapd profile).
func appArmorHint() string {
	profiles, err := os.ReadFile("/sys/kernel/security/apparmor/profiles")
	if err != nil || !bytes.Contains(profiles, []byte("slapd (enforce)")) {
		return ""
	}
	return "\nAppArmor enforces a slapd profile, which forbids the test's temp dir; " +
		"run `aa-complain /usr/sbin/slapd` (apparmor-utils) on this test host"
}

var unsafeRDN = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// startExternal prepares an OU for t on an existing server.
func startExternal(t testing.TB, url string, opts Options) *Server {
	t.Helper()
	if opts.Local || opts.SizeLimit != 0 || opts.Bulk != nil {
		t.Skipf("%s is set, but this test needs its own slapd (to kill it, set its limits or bulk-load it); unset %s to run it", EnvURL, EnvURL)
	}
	bindDN, password, base := os.Getenv(EnvBindDN), os.Getenv(EnvBindPassword), os.Getenv(EnvBaseDN)
	if bindDN == "" || password == "" || base == "" {
		t.Fatalf("ldaptest: %s is set; also set %s, %s and %s", EnvURL, EnvBindDN, EnvBindPassword, EnvBaseDN)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	ou := strings.Trim(unsafeRDN.ReplaceAllString(t.Name(), "-"), "-")
	if len(ou) > 40 {
		ou = ou[:40]
	}
	ou = "pbxgate-" + ou + "-" + hex.EncodeToString(rnd[:])
	s := &Server{
		URL:          url,
		BaseDN:       "ou=" + ou + "," + base,
		RootDN:       bindDN,
		RootPassword: password,
		SyncDN:       bindDN,
		SyncPassword: password,
	}
	s.PeopleDN, s.GroupsDN = "ou=people,"+s.BaseDN, "ou=groups,"+s.BaseDN
	t.Cleanup(func() {
		if err := s.deleteTree(); err != nil {
			t.Errorf("ldaptest: remove %s: %v", s.BaseDN, err)
		}
		if s.admin != nil {
			_ = s.admin.Close()
		}
	})
	s.AddLDIF(t, fmt.Sprintf("dn: %s\nobjectClass: organizationalUnit\nou: %s\n\n"+
		"dn: %s\nobjectClass: organizationalUnit\nou: people\n\n"+
		"dn: %s\nobjectClass: organizationalUnit\nou: groups\n", s.BaseDN, ou, s.PeopleDN, s.GroupsDN))
	return s
}

// deleteTree deletes BaseDN and everything below it, deepest first.
func (s *Server) deleteTree() error {
	conn, err := s.dialRoot()
	if err != nil {
		return err
	}
	defer conn.Close()
	req := ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil)
	res, err := conn.SearchWithPaging(req, 500)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		return err
	}
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	depth := func(dn string) int {
		if p, err := ldap.ParseDN(dn); err == nil {
			return len(p.RDNs)
		}
		return strings.Count(dn, ",")
	}
	slices.SortFunc(dns, func(a, b string) int { return depth(b) - depth(a) })
	for _, dn := range dns {
		if err := conn.Del(ldap.NewDelRequest(dn, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return fmt.Errorf("delete %q: %w", dn, err)
		}
	}
	return nil
}
