// Command quickstart is the library example of the README: a tenant, a user
// with backup routing, and where a call to the user rings right now.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

func main() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, "quickstart.db")
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	dir := pbxusers.New(store, pbxusers.Options{})

	if _, err := dir.CreateTenant(ctx, pbxusers.Tenant{ID: "acme", Region: "US", TimeZone: "America/New_York"}); err != nil {
		log.Fatal(err)
	}
	ada, err := dir.CreateUser(ctx, "acme", pbxusers.User{
		UserName:  "ada@acme.example",
		Name:      pbxusers.Name{Given: "Ada", Family: "Lovelace"},
		Emails:    []pbxusers.Email{{Value: "ada@acme.example", Type: "work", Primary: true}},
		Extension: "201",
		Features:  pbxusers.Features{MobileApp: true, Voicemail: true},
		Routing:   pbxusers.BackupRouting("+12025550143", 60*time.Second, 20*time.Second),
	})
	if err != nil {
		log.Fatal(err) // a *pbxusers.ValidationError names every bad field
	}
	plan, err := dir.Route(ctx, "acme", ada.ID, pbxusers.Call{From: "+12025550199", At: time.Now()}, pbxusers.PresenceOffline)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(plan) // rings the backup number for 20s, then voicemail, and says why
}
