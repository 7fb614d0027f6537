package console

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// outboxShown is how many messages the outbox page lists.
const outboxShown = 200

// outboxData is the mail outbox page.
type outboxData struct {
	Status   string
	Statuses []string
	Messages []pbxusers.OutboxMessage
}

func (h *Handler) listOutbox(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderOutbox(w, r, ss, http.StatusOK, nil)
}

func (h *Handler) renderOutbox(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form) {
	d := &outboxData{Status: r.URL.Query().Get("status"), Statuses: []string{
		string(pbxusers.MailPending), string(pbxusers.MailSent), string(pbxusers.MailFailed), string(pbxusers.MailCancelled)}}
	ms, err := h.dir.ListMail(r.Context(), ss.Tenant, pbxusers.MailQuery{Status: pbxusers.MailStatus(d.Status), Limit: outboxShown})
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d.Messages = ms
	h.renderTenant(w, r, ss, status, "tenant_outbox", "outbox", f, d)
}

// retryOutbox puts a message back in the queue, due now, through the
// admin API.
func (h *Handler) retryOutbox(w http.ResponseWriter, r *http.Request, ss *session) {
	id := r.PathValue("id")
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodPost, "/outbox/"+id+"/retry", nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderOutbox(w, r, ss, p.Status, &form{Summary: problemText(p)})
		return
	}
	back(w, r, "/outbox", "mailRetried", id)
}

// mailData is a message's page with its delivery attempts.
type mailData struct {
	Message  pbxusers.OutboxMessage
	Attempts []pbxusers.MailAttempt
}

func (h *Handler) showOutbox(w http.ResponseWriter, r *http.Request, ss *session) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return
	}
	m, as, err := h.dir.GetMail(r.Context(), ss.Tenant, id)
	if errors.Is(err, pbxusers.ErrNotFound) {
		h.fail(w, r, ss, http.StatusNotFound, "tNotFound")
		return
	}
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	h.renderTenant(w, r, ss, http.StatusOK, "tenant_mail", "outbox", nil, &mailData{Message: m, Attempts: as})
}
