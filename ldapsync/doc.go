// Package ldapsync syncs users from Active Directory or OpenLDAP into a
// pbxusers tenant: it reads the directory (paged and streamed, identified
// by objectGUID/entryUUID, nested groups resolved, disabled accounts
// marked), creates and updates the users it owns, deactivates those the
// directory disabled or dropped (behind safety guards), keeps a history of
// runs and runs on a cron schedule.
//
// Reading alone (Connect, Client.ReadUsers) writes nothing:
//
//	cfg := ldapsync.PresetOpenLDAP()
//	cfg.Name, cfg.Tenant = "corp", "acme"
//	cfg.URL = "ldaps://ldap.corp.example"
//	cfg.BindDN, cfg.BindPasswordFile = "cn=pbx-sync,dc=corp,dc=example", "/run/secrets/ldap"
//	cfg.BaseDN = "dc=corp,dc=example"
//	c, err := ldapsync.Connect(ctx, cfg, logger)
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	res, err := c.ReadUsers(ctx, ldapsync.Full(), func(e ldapsync.Entry) error {
//		fmt.Println(e.ExternalID, e.UserName, e.Extension, e.Groups)
//		return nil
//	})
//	// err != nil means res.Complete is false: never deactivate users
//	// because this read did not return them.
//
// Syncing (see Syncer for the rules) and scheduling:
//
//	sy := ldapsync.New(dir, cfg, ldapsync.Options{Logger: logger, Registerer: reg})
//	res, err := sy.Run(ctx, ldapsync.RunOptions{DryRun: true})
//	_ = res.Plan.WriteTable(os.Stdout) // or json.Marshal(res)
//
//	sched, err := ldapsync.NewScheduler(dir, section.Directories, ldapsync.Options{Logger: logger, Registerer: reg})
//	go sched.Run(ctx) // returns after ctx ends and running batches commit
//
// Performance notes for 100,000 users (see BenchmarkIntegrationSync100k):
// reading is bound by go-ldap's BER decoding (about 3.5 s, where ldapsearch
// takes 1 s); a run over an unchanged directory reads, compares hashes and
// writes nothing; creates and updates cost what pbxusers.Batch costs per
// user. A change of the attribute mapping or groupMappings makes the next
// run read everything and rewrite every user's stored hash once, at about
// the cost of the first sync (docs/performance.md). The read's garbage makes the heap peak well above what it keeps
// live (about 40 MB): a gateway that must stay under a memory budget
// should set GOMEMLIMIT.
package ldapsync
