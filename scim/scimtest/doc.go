// Package scimtest starts pbxgate's SCIM endpoint over a fresh SQLite
// database for tests: a real httptest.Server, a real pbxusers.Directory, a
// tenant and a bearer token.
//
//	s := scimtest.MustStart(t, scim.Options{})
//	id := s.MustCreateUser("ada@example.com")
//	r := s.Do(scimtest.Request{Method: "GET", Path: "/Users/" + id})
package scimtest
