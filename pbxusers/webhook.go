package pbxusers

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// WebhookSecretPrefix starts every webhook signing secret, so secret
// scanners recognise them.
const WebhookSecretPrefix = "whsec_"

// maxWebhookURL bounds a webhook URL, in bytes.
const maxWebhookURL = 2000

// Webhook is a receiver of a tenant's change log: an HTTPS endpoint that
// gets every change-log entry of the tenant, in order, at least once, as
// POSTs signed with HMAC-SHA256 (package internal/webhook delivers them).
//
// The webhook is its own outbox over the durable change log: DeliveredSeq
// is the Seq of the last entry the receiver acknowledged with a 2xx, kept
// in the store, so deliveries resume where they stopped after any restart
// and nothing is skipped. A failed delivery is retried with the same
// entries (up to PendingSeq) after a growing backoff; its outcome is
// visible in Attempts, LastError and NextAttempt.
//
// Unlike an API token, whose hash is enough to check it, the signing secret
// is stored as it is: signing a delivery needs the key itself, and a hash
// cannot sign. It is shown once, when the webhook is created, and never in
// a listing, a log or the change log; protect the database as the rest of
// its contents.
type Webhook struct {
	ID       string `json:"id"`
	TenantID string `json:"tenantId"`
	// URL receives the POSTs: https://, or http:// to a loopback address.
	URL string `json:"url"`
	// Secret is the HMAC-SHA256 key (the whole string, prefix included).
	// Only ClaimWebhooks returns it; everything else leaves it empty.
	Secret string `json:"-"`
	// Active webhooks get deliveries; an inactive one keeps its place.
	Active  bool      `json:"active"`
	Created time.Time `json:"created"`
	// DeliveredSeq is the change-log Seq the receiver acknowledged last;
	// the next delivery starts after it. A new webhook starts at the
	// entry that records its creation: it gets what happens from then on.
	DeliveredSeq int64 `json:"deliveredSeq"`
	// PendingSeq, when above DeliveredSeq, is the last Seq of a delivery
	// that failed: its retry carries the same entries.
	PendingSeq int64 `json:"pendingSeq,omitempty"`
	// Attempts counts the failed attempts of the pending delivery; 0 after
	// a success.
	Attempts int `json:"attempts"`
	// NextAttempt is when the worker may deliver next (the backoff).
	NextAttempt time.Time `json:"nextAttempt"`
	// LastError is the last failure: the receiver's status and the start of
	// its answer, or the connection error. Empty after a success.
	LastError     string     `json:"lastError,omitempty"`
	LastAttempt   *time.Time `json:"lastAttempt,omitempty"`
	LastDelivered *time.Time `json:"lastDelivered,omitempty"`
	// ClaimedBy and ClaimedUntil are the worker lease while it delivers.
	ClaimedBy    string    `json:"claimedBy,omitempty"`
	ClaimedUntil time.Time `json:"claimedUntil,omitzero"`
}

// WebhookInput is what creating a webhook takes.
type WebhookInput struct {
	// URL is the receiver: https://, or http:// to a loopback address
	// (localhost, 127.0.0.0/8, ::1). No user info, no fragment.
	URL string
	// Active defaults to true.
	Active *bool
}

// CheckWebhookURL reports what is wrong with a webhook URL, under the field
// "url".
func CheckWebhookURL(s string) error {
	var p Problems
	checkWebhookURL(&p, s)
	return p.Err()
}

func checkWebhookURL(p *Problems, s string) {
	if s == "" {
		p.Add("url", "required: the receiver's https:// address")
		return
	}
	if len(s) > maxWebhookURL {
		p.Add("url", "is %d bytes long, at most %d", len(s), maxWebhookURL)
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		p.Add("url", "%q is not a URL", s)
	case u.Scheme != "https" && u.Scheme != "http":
		p.Add("url", "%q must start with https://", s)
	case u.Host == "" || u.Hostname() == "":
		p.Add("url", "%q must name a host", s)
	case u.User != nil:
		p.Add("url", "must not carry a user or password: receivers check the signature instead")
	case u.Fragment != "" || strings.Contains(s, "#"):
		p.Add("url", "%q must not have a fragment", s)
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		p.Add("url", "%q must start with https:// (plain http:// only to a loopback address such as 127.0.0.1)", s)
	}
}

// loopbackHost reports whether h is localhost or a loopback address.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// webhookLabel is the URL without its query: what the change log records
// (a query may carry a receiver's token).
func webhookLabel(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// CreateWebhook adds a webhook to the tenant and returns it with its
// signing secret, which is shown this once. It starts delivering the
// changes made after it.
func (d *Directory) CreateWebhook(ctx context.Context, tenant string, in WebhookInput) (Webhook, string, error) {
	if err := CheckWebhookURL(in.URL); err != nil {
		return Webhook{}, "", err
	}
	secret := WebhookSecretPrefix + randomSecret(32)
	w := Webhook{ID: "wh_" + strings.ToLower(randomSecret(12)), TenantID: tenant, URL: in.URL, Secret: secret, Active: true}
	if in.Active != nil {
		w.Active = *in.Active
	}
	err := d.update(ctx, func(t *txn) error {
		if _, err := t.tenant(tenant); err != nil {
			return err
		}
		if err := t.record(Change{TenantID: tenant, Entity: EntityWebhook, EntityID: w.ID, Action: ActionCreate,
			Summary: webhookLabel(w.URL), Fields: []FieldChange{{Field: "active", New: w.Active}}}); err != nil {
			return err
		}
		// The entry just written is the tenant's latest (seqs follow
		// commit order): the webhook gets what comes after it.
		w.DeliveredSeq = t.changes[len(t.changes)-1].Seq
		w.Created, w.NextAttempt = t.now, t.now
		return t.tx.CreateWebhook(t.ctx, &w)
	})
	if err != nil {
		return Webhook{}, "", err
	}
	w.Secret = ""
	return w, secret, nil
}

// ListWebhooks lists the tenant's webhooks, oldest first, without secrets.
func (d *Directory) ListWebhooks(ctx context.Context, tenant string) ([]Webhook, error) {
	return read(d, ctx, func(t *txn) ([]Webhook, error) {
		if _, err := t.tenant(tenant); err != nil {
			return nil, err
		}
		list, err := t.tx.ListWebhooks(t.ctx, tenant)
		for i := range list {
			list[i].Secret = ""
		}
		return list, err
	})
}

// GetWebhook returns one webhook of the tenant, without its secret.
func (d *Directory) GetWebhook(ctx context.Context, tenant, id string) (Webhook, error) {
	return read(d, ctx, func(t *txn) (Webhook, error) {
		w, err := t.tx.GetWebhook(t.ctx, tenant, id)
		w.Secret = ""
		return w, err
	})
}

// DeleteWebhook deletes a webhook of the tenant: no delivery starts after
// it (one in flight may still arrive).
func (d *Directory) DeleteWebhook(ctx context.Context, tenant, id string) error {
	return d.update(ctx, func(t *txn) error {
		w, err := t.tx.GetWebhook(t.ctx, tenant, id)
		if err != nil {
			return err
		}
		if err := t.tx.DeleteWebhook(t.ctx, tenant, id); err != nil {
			return err
		}
		return t.record(Change{TenantID: tenant, Entity: EntityWebhook, EntityID: id, Action: ActionDelete, Summary: webhookLabel(w.URL)})
	})
}

// ClaimWebhooks leases up to limit webhooks of any tenant to the worker
// named owner until now+lease: active webhooks that are due and have
// change-log entries after DeliveredSeq, not leased by another worker. The
// claimed webhooks carry their secrets. Owner names must be unique per
// worker; a webhook owner claimed and did not finish is claimed again at
// once.
func (d *Directory) ClaimWebhooks(ctx context.Context, owner string, lease time.Duration, limit int) ([]Webhook, error) {
	var out []Webhook
	err := d.store.Update(ctx, func(tx Tx) error {
		now := d.now().UTC().Truncate(time.Microsecond)
		var err error
		out, err = tx.ClaimWebhooks(ctx, owner, now, now.Add(lease), limit)
		return err
	})
	return out, err
}

// FinishWebhook stores the outcome of a delivery of a claimed webhook
// (DeliveredSeq, PendingSeq, Attempts, NextAttempt, LastError,
// LastAttempt, LastDelivered, set by the caller) and clears the lease. It
// is a *ConflictError when w.ClaimedBy no longer holds the lease, and
// ErrNotFound when the webhook was deleted meanwhile.
func (d *Directory) FinishWebhook(ctx context.Context, w Webhook) error {
	return d.store.Update(ctx, func(tx Tx) error { return tx.FinishWebhook(ctx, &w) })
}

// ReleaseWebhooks clears the leases the worker named owner holds, so any
// worker may deliver them at once; a worker calls it when it stops.
func (d *Directory) ReleaseWebhooks(ctx context.Context, owner string) (int, error) {
	var n int
	err := d.store.Update(ctx, func(tx Tx) error {
		var err error
		n, err = tx.ReleaseWebhooks(ctx, owner)
		return err
	})
	return n, err
}

// String names the webhook in logs: id and host, never the secret or the
// URL's query.
func (w Webhook) String() string {
	return fmt.Sprintf("%s (%s)", w.ID, webhookLabel(w.URL))
}
