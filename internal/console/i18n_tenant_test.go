package console

import "testing"

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
