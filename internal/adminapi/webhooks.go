package adminapi

import (
	"net/http"

	"github.com/pbxgate/pbxgate/pbxusers"
)

func (h *Handler) mountWebhooks() {
	base := Prefix + "/tenants/{tenant}/webhooks"
	h.handle("GET "+base, h.listWebhooks)
	h.handle("POST "+base, h.createWebhook)
	h.handle("GET "+base+"/{id}", h.getWebhook)
	h.handle("DELETE "+base+"/{id}", h.deleteWebhook)
}

// listWebhooks lists the tenant's webhooks with their delivery state,
// never their secrets.
func (h *Handler) listWebhooks(c *call) error {
	ws, err := h.dir.ListWebhooks(c.ctx, c.tenant)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, list[pbxusers.Webhook]{Items: nonNil(ws), Total: len(ws)})
}

// webhookBody is the body of POST .../webhooks.
type webhookBody struct {
	URL string `json:"url"`
	// Active defaults to true.
	Active *bool `json:"active,omitempty"`
}

// createdWebhook is a new webhook with its signing secret, shown this once.
type createdWebhook struct {
	pbxusers.Webhook
	Secret string `json:"secret"`
}

// createWebhook adds a webhook; the answer carries its secret, once.
func (h *Handler) createWebhook(c *call) error {
	var b webhookBody
	if err := h.decode(c, &b); err != nil {
		return err
	}
	w, secret, err := h.dir.CreateWebhook(c.ctx, c.tenant, pbxusers.WebhookInput{URL: b.URL, Active: b.Active})
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.Header().Set("Location", Prefix+"/tenants/"+c.tenant+"/webhooks/"+w.ID)
	return c.json(http.StatusCreated, createdWebhook{Webhook: w, Secret: secret})
}

// getWebhook shows one webhook with its delivery state.
func (h *Handler) getWebhook(c *call) error {
	w, err := h.dir.GetWebhook(c.ctx, c.tenant, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, w)
}

// deleteWebhook deletes a webhook: no delivery starts after it.
func (h *Handler) deleteWebhook(c *call) error {
	if err := h.dir.DeleteWebhook(c.ctx, c.tenant, c.r.PathValue("id")); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
