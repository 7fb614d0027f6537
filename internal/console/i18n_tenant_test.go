package console

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestTenantTextsComplete: every tenant page text is in English and in
// German.
func TestTenantTextsComplete(t *testing.T) {
	for k := range tenantEnglish {
		if _, ok := tenantGerman[k]; !ok {
			t.Errorf("text %q has no German", k)
		}
	}
	for k := range tenantGerman {
		if _, ok := tenantEnglish[k]; !ok {
			t.Errorf("text %q has no English", k)
		}
	}
}

// TestTenantTextsUsed: every text key the tenant pages name literally
// (.L "key", .F "key", t.get("key")) has an English and a German text, so
// no page shows a bare key.
func TestTenantTextsUsed(t *testing.T) {
	files, err := filepath.Glob("templates/tenant*.html")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "templates/layout.html", "tenant.go", "imports.go", "profiles.go", "teams.go", "timeframes.go",
		"numbers.go", "queues.go", "tokens.go", "directories.go", "outbox.go", "changelog.go")
	re := regexp.MustCompile(`\.[LF] "([A-Za-z_]+)"|\.get\("([A-Za-z_]+)"\)|Status[A-Za-z]+, "([A-Za-z_]+)"\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			key := m[1] + m[2] + m[3]
			if _, ok := english[key]; !ok {
				t.Errorf("%s: text %q has no English", f, key)
			}
			if _, ok := german[key]; !ok {
				t.Errorf("%s: text %q has no German", f, key)
			}
		}
	}
}
