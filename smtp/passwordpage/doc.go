// Package passwordpage serves the set-password page behind the links of
// pbxgate's welcome and password-reset mail: GET /setup/{token} shows a
// form, POST sets the password with pbxusers.Directory.CompleteSetup.
//
// A GET never uses the link up (mail scanners fetch links before the user
// does): it only checks it. The page is plain server-rendered HTML that
// works without JavaScript, loads nothing from elsewhere, and is in the
// user's language (English and German; the browser's language for pages
// that do not know the user).
//
// The smallest use, in the gateway's HTTP server:
//
//	page, err := passwordpage.New(dir, passwordpage.Options{Logger: logger})
//	if err != nil {
//		return err
//	}
//	mux := http.NewServeMux()
//	page.Mount(mux) // GET and POST /setup/{token}
package passwordpage
