// Command embed shows the pbxusers library used from a Go program with
// nothing but a file path: it creates a tenant, a profile, a person with a
// device and backup routing, a call queue, asks where a call rings and why,
// imports two users from CSV and deletes one user with nothing left behind.
//
//	go run ./examples/embed -db /tmp/embed.db
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/pbxgate/pbxgate/pbxusers"
	"github.com/pbxgate/pbxgate/pbxusers/sqlite"
)

func main() {
	path := flag.String("db", "embed-example.db", "SQLite database file to use (created if missing)")
	flag.Parse()
	if err := run(context.Background(), *path); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path string) error {
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	dir := pbxusers.New(store, pbxusers.Options{})

	tenant := fmt.Sprintf("example-%d", time.Now().Unix())
	if _, err := dir.CreateTenant(ctx, pbxusers.Tenant{ID: tenant, Name: "Example Ltd", Region: "GB", TimeZone: "Europe/London",
		Extensions: pbxusers.ExtensionPlan{MinLength: 3, MaxLength: 3, AutoAssign: true,
			Users: pbxusers.Range{From: "200", To: "299"}, System: pbxusers.Range{From: "800", To: "899"}}}); err != nil {
		return err
	}

	supervisor, err := dir.CreateProfile(ctx, tenant, pbxusers.Profile{Name: "Supervisor", Role: pbxusers.RoleSupervisor,
		Grants: pbxusers.PermissionSet{pbxusers.PermLiveCallMonitoring: pbxusers.Bool(true), pbxusers.PermBargeWhisper: pbxusers.Bool(true)}})
	if err != nil {
		return err
	}
	queue, err := dir.CreateUser(ctx, tenant, pbxusers.User{UserName: "support", Kind: pbxusers.KindCallQueue,
		DisplayName: "Support queue", Queue: &pbxusers.QueueSettings{Dispatch: "ring_all"}})
	if err != nil {
		return err
	}

	ada, err := dir.CreateUser(ctx, tenant, pbxusers.User{
		UserName:     "ada@example.co.uk",
		Name:         pbxusers.Name{Given: "Ada", Family: "Lovelace"},
		Emails:       []pbxusers.Email{{Value: "ada@example.co.uk", Type: "work", Primary: true}},
		Role:         pbxusers.RoleAgent,
		Profiles:     []string{supervisor.ID},
		Queues:       []pbxusers.QueueMembership{{QueueID: queue.ID, DefaultOutbound: true}},
		Features:     pbxusers.Features{MobileApp: true, Voicemail: true},
		Routing:      pbxusers.BackupRouting("+447911123456", 60*time.Second, 20*time.Second),
		PhoneNumbers: []pbxusers.PhoneNumber{{Number: "020 7946 0018", Type: pbxusers.PhoneWork}},
	})
	if err != nil {
		return err
	}
	if _, err := dir.AddDevice(ctx, tenant, pbxusers.Device{UserID: ada.ID, Kind: pbxusers.DeviceDeskPhone, MAC: "00:1a:2b:3c:4d:5e"}); err != nil {
		return err
	}
	fmt.Printf("created %s with extension %s (queue %s has %s)\n", ada.UserName, ada.Extension, queue.UserName, queue.Extension)

	// A bad create says which fields are wrong and why.
	_, err = dir.CreateUser(ctx, tenant, pbxusers.User{UserName: "bob", Extension: "2x1", Language: "??"})
	var ve *pbxusers.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Printf("rejected: %s: %s\n", f.Field, f.Reason)
		}
	}

	// Where does a call to Ada ring right now, and why?
	for _, state := range []pbxusers.PresenceState{pbxusers.PresenceAvailable, pbxusers.PresenceOffline} {
		plan, err := dir.Route(ctx, tenant, ada.ID, pbxusers.Call{From: "+442079460999", At: time.Now()}, state)
		if err != nil {
			return err
		}
		fmt.Printf("\nwhile %s:\n%s\n", state, plan)
	}

	eff, err := dir.Effective(ctx, tenant, ada.ID)
	if err != nil {
		return err
	}
	for _, e := range eff {
		if e.From.Kind != "default" {
			fmt.Printf("permission %s = %s (from %s)\n", e.Permission, e.Value, e.From)
		}
	}

	res, err := dir.ImportCSV(ctx, tenant, strings.NewReader("userName,givenName,familyName,email\ncarol,Carol,Jones,carol@example.co.uk\ndan,Dan,Smith,dan@example.co.uk\n"), pbxusers.ImportOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("\nimported %d users from CSV\n", res.Created)

	page, err := dir.ListUsers(ctx, tenant, pbxusers.UserQuery{SortBy: pbxusers.AttrUserName})
	if err != nil {
		return err
	}
	for _, u := range page.Users {
		fmt.Printf("  %-22s ext %s  %s\n", u.UserName, u.Extension, u.Label())
	}

	if err := dir.DeleteUser(ctx, tenant, ada.ID); err != nil {
		return err
	}
	devices, err := dir.ListDevices(ctx, tenant, "")
	if err != nil {
		return err
	}
	fmt.Printf("deleted %s; devices left in the tenant: %d\n", ada.UserName, len(devices))
	if path == "embed-example.db" {
		fmt.Fprintln(os.Stderr, "(data kept in embed-example.db)")
	}
	return nil
}
