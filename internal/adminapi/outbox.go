package adminapi

import (
	"net/http"
	"strconv"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountOutbox() {
	base := Prefix + "/tenants/{tenant}/outbox"
	h.handle("GET "+base, h.listMail)
	h.handle("GET "+base+"/{msg}", h.getMail)
	h.handle("POST "+base+"/{msg}/retry", h.retryMail)
}

// listMail lists outbox messages, newest first: ?status=, ?userId=, ?limit=.
func (h *Handler) listMail(c *call) error {
	q := c.r.URL.Query()
	var ps pbxusers.Problems
	mq := pbxusers.MailQuery{Status: pbxusers.MailStatus(q.Get("status")), UserID: q.Get("userId")}
	mq.Limit = queryInt(c.r, "limit", pbxusers.DefaultPageSize, &ps)
	if mq.Limit < 1 || mq.Limit > pbxusers.MaxPageSize {
		ps.Add("limit", "must be between 1 and %d", pbxusers.MaxPageSize)
	}
	if err := ps.Err(); err != nil {
		return err
	}
	ms, err := h.dir.ListMail(c.ctx, c.tenant, mq)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.OutboxMessage]{Items: nonNil(ms), Total: len(ms)})
}

func msgID(c *call) (int64, error) {
	s := c.r.PathValue("msg")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, problemf(http.StatusNotFound, typeNotFound, "message %q not found", s)
	}
	return id, nil
}

// mailDetail is a message with its delivery attempts.
type mailDetail struct {
	pbxusers.OutboxMessage
	AttemptLog []pbxusers.MailAttempt `json:"attemptLog"`
}

func (h *Handler) getMail(c *call) error {
	id, err := msgID(c)
	if err != nil {
		return err
	}
	m, as, err := h.dir.GetMail(c.ctx, c.tenant, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, mailDetail{OutboxMessage: m, AttemptLog: nonNil(as)})
}

// retryMail puts a failed or pending message back in the queue, due now.
func (h *Handler) retryMail(c *call) error {
	id, err := msgID(c)
	if err != nil {
		return err
	}
	if err := h.dir.RetryMail(c.ctx, c.tenant, id); err != nil {
		return err
	}
	m, _, err := h.dir.GetMail(c.ctx, c.tenant, id)
	if err != nil {
		return err
	}
	return c.json(http.StatusAccepted, m)
}
