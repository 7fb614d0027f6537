// Package webdriver drives a headless Chromium from Go tests through
// ChromeDriver's W3C WebDriver HTTP API, with nothing but net/http and
// encoding/json. Start skips the test, naming the Debian packages, when
// chromium or chromedriver is not installed.
//
//	s := webdriver.Start(t)
//	s.Navigate(t, srv.URL+"/setup/"+token)
//	s.Find(t, "#password").SendKeys(t, "correct horse battery staple")
//	s.Find(t, "button[type=submit]").ClickAndWait(t)
//	heading := s.Find(t, "h1").Text(t)
package webdriver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// elementKey is the W3C web element identifier.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// Browsers and drivers looked for, in order.
var (
	browserNames = []string{"chromium", "chromium-browser", "google-chrome"}
	driverNames  = []string{"chromedriver"}
)

// Session is one browser session. Its methods fail the test on error.
type Session struct {
	base   string // http://127.0.0.1:port/session/<id>
	client *http.Client
}

// Element is an element found in the current page.
type Element struct {
	s  *Session
	id string
}

func lookPath(names []string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Start starts chromedriver on a free port on 127.0.0.1 and a headless
// Chromium session with a fresh profile; both end with the test. It skips
// the test when chromium or chromedriver is not installed.
func Start(tb testing.TB) *Session {
	tb.Helper()
	browser, driver := lookPath(browserNames), lookPath(driverNames)
	if browser == "" || driver == "" {
		tb.Skip("chromium and chromedriver are needed for the browser test; install them with: apt-get install chromium chromium-driver")
	}
	port := freePort(tb)
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--log-level=SEVERE")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		tb.Fatalf("webdriver: start %s: %v", driver, err)
	}
	waited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(waited)
	}()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-waited
	})

	root := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: 60 * time.Second}
	ready := false
	for i := 0; i < 100 && !ready; i++ {
		select {
		case <-waited:
			tb.Fatalf("webdriver: %s exited at start", driver)
		default:
		}
		var st struct {
			Ready bool `json:"ready"`
		}
		if err := call(client, http.MethodGet, root+"/status", nil, &st); err == nil && st.Ready {
			ready = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ready {
		tb.Fatalf("webdriver: %s not ready on port %d after 5s", driver, port)
	}

	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": browser,
			"args": []string{
				"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
				"--no-first-run", "--disable-background-networking", "--disable-component-update",
				"--disable-sync", "--user-data-dir=" + tb.TempDir(),
			},
		},
	}}}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	if err := call(client, http.MethodPost, root+"/session", caps, &created); err != nil {
		tb.Fatalf("webdriver: new session: %v", err)
	}
	s := &Session{base: root + "/session/" + created.SessionID, client: client}
	tb.Cleanup(func() { _ = call(client, http.MethodDelete, s.base, nil, nil) })
	return s
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("webdriver: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Error is an error reply of the WebDriver server.
type Error struct {
	// Code is the W3C error code, e.g. "no such element".
	Code string `json:"error"`
	// Message is the driver's explanation.
	Message string `json:"message"`
}

// Error is the WebDriver error code and message.
func (e *Error) Error() string { return "webdriver: " + e.Code + ": " + e.Message }

// call sends a command and decodes the reply's value into out.
func call(client *http.Client, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	var reply struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("decode %s %s reply (HTTP %d): %w", method, url, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e Error
		if err := json.Unmarshal(reply.Value, &e); err == nil && e.Code != "" {
			return &e
		}
		return fmt.Errorf("%s %s: HTTP %d", method, url, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(reply.Value, out)
}

func (s *Session) do(tb testing.TB, method, path string, in, out any) {
	tb.Helper()
	if err := call(s.client, method, s.base+path, in, out); err != nil {
		tb.Fatalf("webdriver: %s %s: %v", method, path, err)
	}
}

// Navigate opens url and waits until the page has loaded.
func (s *Session) Navigate(tb testing.TB, url string) {
	tb.Helper()
	s.do(tb, http.MethodPost, "/url", map[string]string{"url": url}, nil)
}

// URL returns the current page's address.
func (s *Session) URL(tb testing.TB) string {
	tb.Helper()
	var v string
	s.do(tb, http.MethodGet, "/url", nil, &v)
	return v
}

// Title returns the current page's title.
func (s *Session) Title(tb testing.TB) string {
	tb.Helper()
	var v string
	s.do(tb, http.MethodGet, "/title", nil, &v)
	return v
}

// Source returns the current page's HTML.
func (s *Session) Source(tb testing.TB) string {
	tb.Helper()
	var v string
	s.do(tb, http.MethodGet, "/source", nil, &v)
	return v
}

// Script runs JavaScript in the page (WebDriver scripts are not subject
// to the page's CSP) and returns its result.
func (s *Session) Script(tb testing.TB, script string, args ...any) any {
	tb.Helper()
	if args == nil {
		args = []any{}
	}
	var v any
	s.do(tb, http.MethodPost, "/execute/sync", map[string]any{"script": script, "args": args}, &v)
	return v
}

// Find returns the first element matching the CSS selector, failing the
// test when there is none.
func (s *Session) Find(tb testing.TB, css string) Element {
	tb.Helper()
	e, err := s.FindErr(css)
	if err != nil {
		tb.Fatalf("webdriver: find %q: %v", css, err)
	}
	return e
}

// FindErr is Find returning an error (a *Error with Code "no such
// element" when there is none).
func (s *Session) FindErr(css string) (Element, error) {
	var v map[string]string
	if err := call(s.client, http.MethodPost, s.base+"/element", map[string]string{"using": "css selector", "value": css}, &v); err != nil {
		return Element{}, err
	}
	id := v[elementKey]
	if id == "" {
		return Element{}, errors.New("webdriver: reply without element id")
	}
	return Element{s: s, id: id}, nil
}

// Active returns the element that has the focus.
func (s *Session) Active(tb testing.TB) Element {
	tb.Helper()
	var v map[string]string
	s.do(tb, http.MethodGet, "/element/active", nil, &v)
	return Element{s: s, id: v[elementKey]}
}

// SendKeys types text into the element.
func (e Element) SendKeys(tb testing.TB, text string) {
	tb.Helper()
	e.s.do(tb, http.MethodPost, "/element/"+e.id+"/value", map[string]string{"text": text}, nil)
}

// Clear empties an input.
func (e Element) Clear(tb testing.TB) {
	tb.Helper()
	e.s.do(tb, http.MethodPost, "/element/"+e.id+"/clear", map[string]any{}, nil)
}

// Click clicks the element and, when that submits a form, waits for the
// next page.
func (e Element) Click(tb testing.TB) {
	tb.Helper()
	e.s.do(tb, http.MethodPost, "/element/"+e.id+"/click", map[string]any{}, nil)
}

// ClickAndWait clicks the element (a submit button, a link) and waits,
// up to 10s, until a new document has replaced the current one and has
// loaded: WebDriver's click does not always wait for the navigation a
// form submission starts.
func (e Element) ClickAndWait(tb testing.TB) {
	tb.Helper()
	e.s.Script(tb, "document.documentElement.setAttribute('data-webdriver-old', '1')")
	e.Click(tb)
	for i := 0; i < 200; i++ {
		var v any
		err := call(e.s.client, http.MethodPost, e.s.base+"/execute/sync", map[string]any{
			"script": "return document.readyState === 'complete' && !document.documentElement.hasAttribute('data-webdriver-old')",
			"args":   []any{},
		}, &v)
		if err == nil && v == true {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("webdriver: no new page 10s after the click")
}

// Text returns the element's rendered text.
func (e Element) Text(tb testing.TB) string {
	tb.Helper()
	var v string
	e.s.do(tb, http.MethodGet, "/element/"+e.id+"/text", nil, &v)
	return v
}

// Attribute returns an attribute's value, "" when it is not set.
func (e Element) Attribute(tb testing.TB, name string) string {
	tb.Helper()
	var v *string
	e.s.do(tb, http.MethodGet, "/element/"+e.id+"/attribute/"+name, nil, &v)
	if v == nil {
		return ""
	}
	return *v
}

// ID returns the element's id attribute.
func (e Element) ID(tb testing.TB) string {
	tb.Helper()
	return e.Attribute(tb, "id")
}

// Screenshot returns a PNG of the current viewport.
func (s *Session) Screenshot(tb testing.TB) []byte {
	tb.Helper()
	var v string
	s.do(tb, http.MethodGet, "/screenshot", nil, &v)
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		tb.Fatalf("webdriver: decode screenshot: %v", err)
	}
	return b
}

// SetWindowSize resizes the browser window, in CSS pixels.
func (s *Session) SetWindowSize(tb testing.TB, width, height int) {
	tb.Helper()
	s.do(tb, http.MethodPost, "/window/rect", map[string]int{"width": width, "height": height}, nil)
}
