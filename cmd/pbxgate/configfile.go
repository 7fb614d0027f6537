package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// A config file is read in this order, so that every problem is found in
// one run and a secret is never read as YAML:
//
//  1. parse the YAML into nodes (a syntax error stops here);
//  2. check every key against the Config type: an unknown key is reported
//     with its path, line and the closest known key, and dropped;
//  3. expand ${VAR} inside string values only (never in keys or comments);
//     a value that is exactly ${VAR} becomes the variable's text verbatim,
//     whatever YAML would make of it ("abc #def", "*star");
//  4. decode the nodes into Config, collecting type errors;
//  5. apply PBXGATE_* environment variables over the file (envName);
//  6. validate, attaching each problem's line (or the variable it came
//     from) to its YAML path.

// configProblem is one problem (or warning) of a configuration.
type configProblem struct {
	path string // YAML path such as ldap.directories[0].bindDN
	line int    // 0: not in the file
	env  string // the variable the value came from, if any
	msg  string
}

func (p configProblem) String() string {
	where := ""
	switch {
	case p.env != "":
		where = " (from " + p.env + ")"
	case p.line > 0:
		where = fmt.Sprintf(" (line %d)", p.line)
	}
	if p.path == "" {
		return lineOnly(p.line) + p.msg
	}
	return p.path + ": " + p.msg + where
}

func lineOnly(line int) string {
	if line > 0 {
		return fmt.Sprintf("line %d: ", line)
	}
	return ""
}

// configLoad is the state of reading one file.
type configLoad struct {
	getenv   func(string) string
	lines    map[string]int    // YAML path -> line
	fromEnv  map[string]string // YAML path -> variable
	problems []configProblem
	warnings []configProblem
	dbRaw    string // database: as written, before ${VAR} expansion
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// secretKeys are the keys whose values are secrets: written in the file in
// plain text they draw a warning.
var secretKeys = map[string]bool{"password": true, "bindPassword": true}

// loadConfig reads, checks and validates a configuration file; path ""
// is the embedded defaults with the environment applied. It returns the
// warnings (plaintext secrets, LDAP without TLS) beside the config.
func loadConfig(path string, getenv func(string) string) (*Config, []string, error) {
	l := &configLoad{getenv: getenv, lines: map[string]int{}, fromEnv: map[string]string{}}
	cfg := &Config{}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read config: %w", err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, nil, &ConfigError{File: path, Problems: []string{strings.TrimPrefix(err.Error(), "yaml: ")}}
		}
		if len(doc.Content) > 0 {
			root := doc.Content[0]
			l.walk(root, reflect.TypeFor[Config](), "")
			if fatal := l.decode(root, cfg); fatal {
				return nil, nil, l.err(path)
			}
		}
	}
	l.applyEnv(reflect.ValueOf(cfg).Elem(), "", "PBXGATE")
	if v := getenv("PBXGATE_DB"); v != "" { // the documented short name
		cfg.Database = v
		l.fromEnv["database"] = "PBXGATE_DB"
	}
	if err := cfg.Validate(path); err != nil {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			return nil, nil, err
		}
		for _, p := range ce.Problems {
			l.problems = append(l.problems, l.locate(p))
		}
	}
	l.warn(cfg)
	var warnings []string
	for _, w := range l.warnings {
		warnings = append(warnings, w.String())
	}
	if len(l.problems) > 0 {
		return nil, warnings, l.err(path)
	}
	return cfg, warnings, nil
}

// err is every problem found, ordered by line.
func (l *configLoad) err(file string) error {
	sort.SliceStable(l.problems, func(i, j int) bool {
		a, b := l.problems[i], l.problems[j]
		if (a.line == 0) != (b.line == 0) {
			return a.line != 0
		}
		return a.line < b.line
	})
	var out []string
	seen := map[string]bool{}
	for _, p := range l.problems {
		if s := p.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if file == "" {
		file = "configuration"
	}
	return &ConfigError{File: file, Problems: out}
}

// locate turns a validation line "path: message" into a problem with the
// path's line, or the line of its nearest parent in the file.
func (l *configLoad) locate(s string) configProblem {
	path, msg, ok := strings.Cut(s, ": ")
	if !ok || strings.Contains(path, " ") {
		return configProblem{msg: s}
	}
	p := configProblem{path: path, msg: msg}
	if env, ok := l.fromEnv[path]; ok {
		p.env = env
		return p
	}
	for q := path; q != ""; q = parentPath(q) {
		if line, ok := l.lines[q]; ok {
			p.line = line
			break
		}
	}
	return p
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// yamlFields maps a struct type's YAML keys to their fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" && f.IsExported() {
			out[name] = f
		}
	}
	return out
}

// walk records every path's line, reports and drops unknown keys, expands
// ${VAR} in string values and notes plaintext secrets.
func (l *configLoad) walk(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		l.lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.ScalarNode:
		l.expand(n, path)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			et := reflect.TypeFor[string]()
			if t.Kind() == reflect.Slice {
				et = t.Elem()
			}
			l.walk(item, et, fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.MappingNode:
		if t.Kind() == reflect.Map {
			for i := 0; i+1 < len(n.Content); i += 2 {
				l.walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
			}
			return
		}
		if t.Kind() != reflect.Struct {
			return // a type error, reported when decoding
		}
		fields := yamlFields(t)
		var keep []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			f, ok := fields[key.Value]
			if !ok {
				var names []string
				for name := range fields {
					names = append(names, name)
				}
				sort.Strings(names)
				msg := fmt.Sprintf("unknown key %q", join(path, key.Value))
				if s := closest(key.Value, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += "; known keys here: " + strings.Join(names, ", ")
				}
				l.problems = append(l.problems, configProblem{line: key.Line, msg: msg})
				continue
			}
			keep = append(keep, key, val)
			p := join(path, key.Value)
			if p == "database" {
				l.dbRaw = val.Value
			}
			if secretKeys[key.Value] && val.Kind == yaml.ScalarNode && val.Value != "" && !envRef.MatchString(val.Value) {
				l.warnings = append(l.warnings, configProblem{path: p, line: val.Line,
					msg: fmt.Sprintf("a secret written in the file; use ${VAR}, %sFile, or %s", key.Value, envName(p, "PBXGATE"))})
			}
			l.walk(val, f.Type, p)
		}
		n.Content = keep
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// expand replaces ${VAR} in a string value.
func (l *configLoad) expand(n *yaml.Node, path string) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	missing := func(name string) {
		l.problems = append(l.problems, configProblem{path: path, line: n.Line,
			msg: fmt.Sprintf("${%s} is not set in the environment", name)})
	}
	if m := envRef.FindStringSubmatch(n.Value); m != nil && m[0] == strings.TrimSpace(n.Value) {
		v := l.getenv(m[1])
		if v == "" {
			missing(m[1])
			n.Value, n.Tag, n.Style = "", "!!null", 0 // reported once, not again as a type error
			return
		}
		n.Value = v
		n.Style = 0
		n.Tag = "!!str"
		if looksTyped(v) {
			n.Tag = "" // a number, bool or duration for a typed field
		}
		return
	}
	n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := envRef.FindStringSubmatch(ref)[1]
		v := l.getenv(name)
		if v == "" {
			missing(name)
		}
		return v
	})
	n.Tag = "!!str"
}

// looksTyped reports whether YAML would read v as a bool or number.
func looksTyped(v string) bool {
	if _, err := strconv.ParseBool(v); err == nil {
		return true
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// decode decodes the checked nodes into cfg, collecting type errors. It
// reports true when decoding could not finish.
func (l *configLoad) decode(root *yaml.Node, cfg *Config) bool {
	err := root.Decode(cfg)
	if err == nil {
		return false
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		l.problems = append(l.problems, configProblem{msg: strings.TrimPrefix(err.Error(), "yaml: ")})
		return true
	}
	byLine := map[int]string{}
	for p, line := range l.lines {
		if cur, ok := byLine[line]; !ok || len(p) > len(cur) {
			byLine[line] = p
		}
	}
	for _, e := range te.Errors {
		p := configProblem{msg: e}
		if m := yamlLine.FindStringSubmatch(e); m != nil {
			p.line, _ = strconv.Atoi(m[1])
			p.path, p.msg = byLine[p.line], friendlyTypeError(m[2])
		}
		l.problems = append(l.problems, p)
	}
	return false
}

var typeError = regexp.MustCompile("^cannot unmarshal !!\\w+ `(.*)` into (\\S+)$")

// friendlyTypeError says what yaml.v3's "cannot unmarshal !!str `x` into
// int" means.
func friendlyTypeError(msg string) string {
	m := typeError.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := map[string]string{"int": "a whole number", "int64": "a whole number", "float64": "a number", "bool": "true or false",
		"time.Duration": "a duration such as 30s or 24h", "string": "text"}[m[2]]
	if want == "" {
		return msg
	}
	return fmt.Sprintf("%q is not %s", m[1], want)
}

// envName is the variable that sets a YAML path: PBXGATE_ and the path's
// keys in upper snake case joined by "_" (publicURL: PBXGATE_PUBLIC_URL,
// smtp.password: PBXGATE_SMTP_PASSWORD, mail.linkTTL: PBXGATE_MAIL_LINK_TTL).
func envName(path, prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, key := range strings.Split(path, ".") {
		b.WriteByte('_')
		r := []rune(key)
		for i, c := range r {
			if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]) ||
				(i+1 < len(r) && unicode.IsLower(r[i+1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToUpper(c))
		}
	}
	return b.String()
}

var durationType = reflect.TypeFor[time.Duration]()

// applyEnv sets every scalar setting whose variable is set. Lists (tenants,
// ldap.directories) come only from the file.
func (l *configLoad) applyEnv(v reflect.Value, path, prefix string) {
	t := v.Type()
	for name, f := range yamlFields(t) {
		p := join(path, name)
		fv := v.FieldByIndex(f.Index)
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct:
			l.applyEnv(fv, p, prefix)
			continue
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			tmp := reflect.New(ft.Elem())
			if !fv.IsNil() {
				tmp.Elem().Set(fv.Elem())
			}
			before := len(l.fromEnv)
			l.applyEnv(tmp.Elem(), p, prefix)
			if len(l.fromEnv) > before {
				fv.Set(tmp)
			}
			continue
		}
		name := envName(p, prefix)
		raw := l.getenv(name)
		if raw == "" {
			continue
		}
		if err := setFromString(fv, raw); err != nil {
			l.problems = append(l.problems, configProblem{path: p, env: name, msg: err.Error()})
			continue
		}
		l.fromEnv[p] = name
	}
}

// setFromString sets a scalar field from an environment variable's text.
func setFromString(v reflect.Value, s string) error {
	if v.Kind() == reflect.Pointer {
		n := reflect.New(v.Type().Elem())
		if err := setFromString(n.Elem(), s); err != nil {
			return err
		}
		v.Set(n)
		return nil
	}
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s or 24h", s)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case v.CanInt():
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(i)
	case v.CanFloat():
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// envSettings lists every setting the environment can set, with its YAML
// path, for the documentation.
func envSettings() [][2]string {
	var out [][2]string
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		fields := yamlFields(t)
		var names []string
		for n := range fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ft := fields[n].Type
			p := join(path, n)
			switch {
			case ft.Kind() == reflect.Struct || (ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct):
				walk(ft, p)
			case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map:
			default:
				out = append(out, [2]string{p, envName(p, "PBXGATE")})
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// warn notes settings that work but are risky.
func (l *configLoad) warn(cfg *Config) {
	for i, d := range cfg.LDAP.Directories {
		if strings.HasPrefix(strings.ToLower(d.URL), "ldap://") && !d.StartTLS {
			p := fmt.Sprintf("ldap.directories[%d].url", i)
			l.warnings = append(l.warnings, configProblem{path: p, line: l.lines[p],
				msg: "ldap:// without startTLS sends the bind password and every entry in the clear; use ldaps:// or startTLS: true"})
		}
	}
	if u := cfg.Database; strings.Contains(u, "://") {
		if _, rest, ok := strings.Cut(u, "://"); ok {
			if cred, _, ok := strings.Cut(rest, "@"); ok && strings.Contains(cred, ":") && l.fromEnv["database"] == "" && !strings.Contains(l.dbRaw, "${") {
				l.warnings = append(l.warnings, configProblem{path: "database", line: l.lines["database"],
					msg: "a password written in the database URL; use ${PGPASSWORD} in it, PGPASSWORD, or PBXGATE_DATABASE"})
			}
		}
	}
}
