package smtp

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"
)

// Kind names a kind of mail; it is the first part of a template file name.
type Kind string

// Kinds of mail.
const (
	KindWelcome Kind = "welcome" // new user, set-password link
	KindReset   Kind = "reset"   // password reset link
	KindTest    Kind = "test"    // "pbxgate mail test ADDRESS"
)

// DefaultLanguage is used when no template matches the user's language.
const DefaultLanguage = "en"

// The data types below are deliberately free of passwords, SIP secrets and
// PINs: a template cannot show what it is not given. The user sets those
// on the page behind Link.

// WelcomeData is what the welcome mail may show.
type WelcomeData struct {
	// Tenant is the tenant's display name, e.g. "Acme GmbH". Optional.
	Tenant string
	// DisplayName is the user's full name, e.g. "Anna Müller".
	DisplayName string
	// GivenName is used in the greeting; DisplayName when empty.
	GivenName string
	// Login is the name the user signs in with. Required.
	Login string
	// Extension is the user's extension number. Optional.
	Extension string
	// Link is the absolute http(s) URL of the set-password page, with the
	// one-time token. Required.
	Link string
	// ExpiresAt is when Link stops working, shown in its own location:
	// convert it to the tenant's time zone before rendering. Required.
	ExpiresAt time.Time
	// Language is the user's language tag (BCP 47, e.g. "de-AT"); it picks
	// the template. Empty means DefaultLanguage.
	Language string
	// SignInURL is where the user signs in once the password is set (the
	// tenant's app or portal). Optional.
	SignInURL string
}

// ResetData is what the password-reset mail may show.
type ResetData struct {
	// Tenant is the tenant's display name. Optional.
	Tenant string
	// DisplayName is the user's full name.
	DisplayName string
	// GivenName is used in the greeting; DisplayName when empty.
	GivenName string
	// Login is the name the user signs in with. Required.
	Login string
	// Link is the absolute http(s) URL of the set-password page. Required.
	Link string
	// ExpiresAt is when Link stops working, shown in its own location.
	// Required.
	ExpiresAt time.Time
	// Language is the user's language tag; it picks the template.
	Language string
}

// TestData is what the test mail ("pbxgate mail test ADDRESS") shows.
type TestData struct {
	// Tenant is the tenant's display name. Optional.
	Tenant string
	// Via describes the transport, e.g. Relay.String(). Optional.
	Via string
	// SentAt is when the test was started. Zero means now.
	SentAt time.Time
	// Language is the recipient's language tag.
	Language string
}

// Content is a rendered mail: subject, text and HTML body.
type Content struct {
	// Subject is one line, whitespace collapsed.
	Subject string
	// Text is the text/plain body.
	Text string
	// HTML is the text/html body.
	HTML string
	// Language is the language of the template used, e.g. "de".
	Language string
}

// Message returns a Message to to with this content and a
// Content-Language header.
func (c Content) Message(to Address) Message {
	return Message{
		To:      to,
		Subject: c.Subject,
		Text:    c.Text,
		HTML:    c.HTML,
		Headers: map[string]string{"Content-Language": c.Language},
	}
}

//go:embed templates/*.tmpl
var embedded embed.FS

// Templates renders mail from the embedded default templates (English and
// German) and from per-tenant overrides.
//
// Template files are named <kind>.<lang>.<part>.tmpl: kind is welcome,
// reset or test; lang a lower-case language tag (en, de, de-at, fr); part
// is subject (text/template, one line), txt (text/template, the text/plain
// body) or html (html/template, the text/html body). The three parts of a
// kind and language come as a set: all three or none.
//
// Overrides live in a directory with one sub-directory per tenant key:
//
//	<dir>/<tenant>/welcome.de.subject.tmpl
//	<dir>/<tenant>/welcome.de.txt.tmpl
//	<dir>/<tenant>/welcome.de.html.tmpl
//
// Regular files directly in <dir> and names starting with "." are ignored;
// any other file name is an error, so a typo does not go unnoticed. All
// templates are parsed by NewTemplates; changes need a restart.
//
// The language is chosen from the data's Language: the full tag, then
// shorter prefixes ("de-at", then "de"), then DefaultLanguage; for each,
// the tenant's override first, then the embedded default. So "de-AT" gets
// German, an unknown language English.
//
// Templates may call datetime: {{datetime "de" .ExpiresAt}} formats a time
// as "24. November 2025, 14:05 CET" ("en": "24 November 2025, 14:05 CET";
// other languages: "2025-11-24 14:05 CET").
type Templates struct {
	sets map[setKey]*templateSet
}

type setKey struct {
	tenant string // "" for the embedded defaults
	kind   Kind
	lang   string
}

type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

var funcs = map[string]any{"datetime": formatDateTime}

// NewTemplates parses the embedded templates and, when dir is not empty,
// the per-tenant overrides under dir. It reports every bad file at once.
func NewTemplates(dir string) (*Templates, error) {
	t := &Templates{sets: map[setKey]*templateSet{}}
	var errs []error
	errs = append(errs, t.load(embedded, "templates", "")...)
	for _, kind := range []Kind{KindWelcome, KindReset, KindTest} {
		if t.sets[setKey{"", kind, DefaultLanguage}] == nil {
			errs = append(errs, fmt.Errorf("embedded templates: no %s.%s set", kind, DefaultLanguage))
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read template directory: %w", err)
		}
		root := os.DirFS(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
				continue
			}
			errs = append(errs, t.load(root, e.Name(), e.Name())...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// load parses the templates in dir of fsys as the sets of tenant.
func (t *Templates) load(fsys fs.FS, dir, tenant string) []error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return []error{fmt.Errorf("read %s: %w", dir, err)}
	}
	type parts struct{ subject, text, html string }
	found := map[setKey]*parts{}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		file := path.Join(dir, name)
		f := strings.Split(strings.TrimSuffix(name, ".tmpl"), ".")
		if e.IsDir() || !strings.HasSuffix(name, ".tmpl") || len(f) != 3 || !validKind(Kind(f[0])) || !validLangFile(f[1]) {
			errs = append(errs, fmt.Errorf("%s: not a template file name (<welcome|reset|test>.<lang>.<subject|txt|html>.tmpl, lang lower-case like de or de-at)", file))
			continue
		}
		k := setKey{tenant, Kind(f[0]), f[1]}
		p := found[k]
		if p == nil {
			p = &parts{}
			found[k] = p
		}
		switch f[2] {
		case "subject":
			p.subject = file
		case "txt":
			p.text = file
		case "html":
			p.html = file
		default:
			errs = append(errs, fmt.Errorf("%s: part %q is not subject, txt or html", file, f[2]))
		}
	}
	keys := make([]setKey, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return string(keys[i].kind)+"."+keys[i].lang < string(keys[j].kind)+"."+keys[j].lang
	})
	for _, k := range keys {
		p := found[k]
		if p.subject == "" || p.text == "" || p.html == "" {
			errs = append(errs, fmt.Errorf("%s: %s.%s needs all of .subject.tmpl, .txt.tmpl and .html.tmpl", dir, k.kind, k.lang))
			continue
		}
		set := &templateSet{}
		var err error
		if set.subject, err = parseText(fsys, p.subject); err != nil {
			errs = append(errs, err)
		}
		if set.text, err = parseText(fsys, p.text); err != nil {
			errs = append(errs, err)
		}
		if set.html, err = parseHTML(fsys, p.html); err != nil {
			errs = append(errs, err)
		}
		if set.subject != nil && set.text != nil && set.html != nil {
			t.sets[k] = set
		}
	}
	return errs
}

func parseText(fsys fs.FS, name string) (*texttemplate.Template, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	tt, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	return tt, nil
}

func parseHTML(fsys fs.FS, name string) (*htmltemplate.Template, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	ht, err := htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	return ht, nil
}

// Welcome renders the welcome mail for a user of tenant (the tenant key
// naming the override directory; "" for the defaults).
func (t *Templates) Welcome(tenant string, d WelcomeData) (Content, error) {
	var errs []error
	if d.Login == "" {
		errs = append(errs, fieldErr("login", "required"))
	}
	errs = append(errs, checkLink(d.Link, d.ExpiresAt)...)
	if err := errors.Join(errs...); err != nil {
		return Content{}, fmt.Errorf("render welcome mail: %w", err)
	}
	return t.render(tenant, KindWelcome, d.Language, d)
}

// Reset renders the password-reset mail.
func (t *Templates) Reset(tenant string, d ResetData) (Content, error) {
	var errs []error
	if d.Login == "" {
		errs = append(errs, fieldErr("login", "required"))
	}
	errs = append(errs, checkLink(d.Link, d.ExpiresAt)...)
	if err := errors.Join(errs...); err != nil {
		return Content{}, fmt.Errorf("render reset mail: %w", err)
	}
	return t.render(tenant, KindReset, d.Language, d)
}

// Test renders the test mail.
func (t *Templates) Test(tenant string, d TestData) (Content, error) {
	if d.SentAt.IsZero() {
		d.SentAt = time.Now()
	}
	return t.render(tenant, KindTest, d.Language, d)
}

func checkLink(link string, expires time.Time) []error {
	var errs []error
	u, err := url.Parse(link)
	switch {
	case link == "":
		errs = append(errs, fieldErr("link", "required"))
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		errs = append(errs, fieldErr("link", "must be an absolute http(s) URL"))
	}
	if expires.IsZero() {
		errs = append(errs, fieldErr("expiresAt", "required"))
	}
	return errs
}

// render picks the set for tenant, kind and language and executes it.
func (t *Templates) render(tenant string, kind Kind, lang string, data any) (Content, error) {
	set, chosen := t.pick(tenant, kind, lang)
	if set == nil {
		return Content{}, fmt.Errorf("render %s mail: no template", kind)
	}
	var subject, text, html bytes.Buffer
	if err := set.subject.Execute(&subject, data); err != nil {
		return Content{}, fmt.Errorf("render %s subject: %w", kind, err)
	}
	if err := set.text.Execute(&text, data); err != nil {
		return Content{}, fmt.Errorf("render %s text: %w", kind, err)
	}
	if err := set.html.Execute(&html, data); err != nil {
		return Content{}, fmt.Errorf("render %s HTML: %w", kind, err)
	}
	c := Content{
		Subject:  strings.Join(strings.Fields(subject.String()), " "),
		Text:     strings.TrimRight(text.String(), " \t\r\n") + "\n",
		HTML:     html.String(),
		Language: chosen,
	}
	if c.Subject == "" {
		return Content{}, fmt.Errorf("render %s subject: empty", kind)
	}
	return c, nil
}

// pick returns the set to use and its language.
func (t *Templates) pick(tenant string, kind Kind, lang string) (*templateSet, string) {
	for _, l := range languageCandidates(lang) {
		if tenant != "" {
			if s := t.sets[setKey{tenant, kind, l}]; s != nil {
				return s, l
			}
		}
		if s := t.sets[setKey{"", kind, l}]; s != nil {
			return s, l
		}
	}
	return nil, ""
}

// languageCandidates turns "de_AT.UTF-8" or "de-AT" into ["de-at", "de",
// "en"]: the tag, its shorter prefixes, then DefaultLanguage.
func languageCandidates(tag string) []string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, ".@"); i >= 0 {
		tag = tag[:i]
	}
	tag = strings.ReplaceAll(tag, "_", "-")
	var out []string
	for tag != "" && validLangFile(tag) {
		out = append(out, tag)
		i := strings.LastIndexByte(tag, '-')
		if i < 0 {
			break
		}
		tag = tag[:i]
	}
	return append(out, DefaultLanguage)
}

func validKind(k Kind) bool {
	return k == KindWelcome || k == KindReset || k == KindTest
}

// validLangFile accepts lower-case tags like "de" or "de-at".
func validLangFile(s string) bool {
	if s == "" || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") || strings.Contains(s, "--") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

var germanMonths = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}

// formatDateTime formats t in its own location for the language lang.
func formatDateTime(lang string, t time.Time) string {
	switch lang {
	case "de":
		return fmt.Sprintf("%d. %s %d, %s", t.Day(), germanMonths[t.Month()-1], t.Year(), t.Format("15:04 MST"))
	case "en":
		return t.Format("2 January 2006, 15:04 MST")
	default:
		return t.Format("2006-01-02 15:04 MST")
	}
}
