// Package smtp composes pbxgate's mail (welcome, password reset, test) and
// delivers it through an SMTP relay or into a directory of .eml files.
//
// A [Message] is rendered from [Templates] and composed as RFC 5322 /
// MIME with go-message; a [Sender] delivers it and says whether a failure
// is worth retrying. [Relay] talks to a real relay with go-smtp (STARTTLS
// required by default, connection reuse across bursts); [Dir] writes one
// file per message for setups without a relay. Package smtptest runs an
// in-process SMTP server for tests.
//
// A [Worker] delivers the durable outbox of a pbxusers.Directory (welcome,
// password-reset and test mail queued in the same transaction as the
// change that caused them): it issues each set-password link at send time,
// renders the mail in the user's language, sends it and records every
// attempt, retrying temporary failures with backoff and keeping messages
// queued while the relay is unreachable. Package passwordpage serves the
// page the links lead to.
//
// The smallest use:
//
//	relay, err := smtp.NewRelay(smtp.RelayConfig{
//		Host: "mail.example.com",
//		From: smtp.Address{Name: "Example PBX", Address: "pbx@example.com"},
//	}, logger)
//	if err != nil {
//		return err
//	}
//	defer relay.Close()
//	retry, err := relay.Send(ctx, smtp.Message{
//		To:      smtp.Address{Name: "Anna Müller", Address: "anna@example.com"},
//		Subject: "Hello",
//		Text:    "Hello Anna",
//	})
//
// And the outbox worker, run until ctx is cancelled:
//
//	tmpl, err := smtp.NewTemplates("") // embedded English and German
//	w, err := smtp.NewWorker(dir, relay, tmpl, smtp.WorkerOptions{
//		PublicURL: "https://pbx.example.com", // links: <PublicURL>/setup/<token>
//		Logger:    logger,
//	})
//	err = w.Run(ctx)
package smtp
