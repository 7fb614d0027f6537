package console

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/pbxgate/pbxgate/pbxusers"
)

// numbersData is the Numbers page: the tenant's DIDs with the user each
// routes to.
type numbersData struct {
	Numbers []numberRow
}

// numberRow is a DID and the label of its user ("" when free).
type numberRow struct {
	Number pbxusers.Number
	User   string
	// Field is the id prefix of the row's form fields.
	Field string
}

func (h *Handler) listNumbers(w http.ResponseWriter, r *http.Request, ss *session) {
	h.renderNumbers(w, r, ss, http.StatusOK, nil)
}

func (h *Handler) renderNumbers(w http.ResponseWriter, r *http.Request, ss *session, status int, f *form) {
	ctx := r.Context()
	ns, err := h.dir.ListNumbers(ctx, ss.Tenant, "")
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	d := &numbersData{}
	for i, n := range ns {
		row := numberRow{Number: n, Field: fmt.Sprintf("n%d", i)}
		if n.UserID != "" {
			if u, err := h.dir.GetUser(ctx, ss.Tenant, n.UserID); err == nil {
				row.User = u.UserName
			} else {
				row.User = n.UserID
			}
		}
		d.Numbers = append(d.Numbers, row)
	}
	h.renderTenant(w, r, ss, status, "tenant_numbers", "numbers", f, d)
}

// userRef resolves the user field of a form to an id; "" stays "" (no
// user). A user that does not exist is the field's problem.
func (h *Handler) userRef(r *http.Request, ss *session, f *form, field string) (string, bool, error) {
	ref := f.V(field)
	if ref == "" {
		return "", true, nil
	}
	u, found, err := h.findUser(r.Context(), ss.Tenant, ref)
	if err != nil || !found {
		if err == nil {
			f.fail(field, fmt.Sprintf(textsFor(ss, r).get("noSuchUser"), ref))
		}
		return "", false, err
	}
	return u.ID, true, nil
}

// addNumber adds a DID to the inventory, routed to a user when one is
// named.
func (h *Handler) addNumber(w http.ResponseWriter, r *http.Request, ss *session) {
	t := textsFor(ss, r)
	f := newForm(r, "number", "label", "user")
	userID, ok, err := h.userRef(r, ss, f, "user")
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if f.V("number") == "" {
		f.fail("number", t.get("required"))
		ok = false
	}
	if !ok {
		f.Summary = t.get("fixErrors")
		h.renderNumbers(w, r, ss, http.StatusUnprocessableEntity, f)
		return
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodPut, "/numbers/"+url.PathEscape(f.V("number")),
		map[string]any{"userId": userID, "label": f.V("label")}, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		f.absorb(t, p, map[string]string{"number": "number", "e164": "number", "userId": "user", "label": "label"})
		h.renderNumbers(w, r, ss, statusOf(p), f)
		return
	}
	back(w, r, "/numbers", "savedNamed", f.V("number"))
}

// assignNumber routes a DID to the user named, or releases it (no user:
// the number stays in the inventory, free).
func (h *Handler) assignNumber(w http.ResponseWriter, r *http.Request, ss *session) {
	t := textsFor(ss, r)
	number := r.PathValue("number")
	field := r.PostFormValue("field")
	f := newForm(r, "user", "label")
	f.Values[field] = f.V("user")
	userID, ok, err := h.userRef(r, ss, f, "user")
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if !ok {
		f.Problems[field] = f.Problems["user"]
		delete(f.Problems, "user")
		f.Summary = t.get("fixErrors")
		h.renderNumbers(w, r, ss, http.StatusUnprocessableEntity, f)
		return
	}
	if r.PostFormValue("release") == "1" {
		userID = ""
	}
	p, err := h.callAPI(r.Context(), ss, http.MethodPut, "/numbers/"+url.PathEscape(number),
		map[string]any{"userId": userID, "label": f.V("label")}, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderNumbers(w, r, ss, statusOf(p), &form{Summary: problemText(p)})
		return
	}
	key := "numberAssigned"
	if userID == "" {
		key = "numberReleased"
	}
	back(w, r, "/numbers", key, number)
}

// removeNumber deletes a DID from the inventory.
func (h *Handler) removeNumber(w http.ResponseWriter, r *http.Request, ss *session) {
	number := r.PathValue("number")
	p, err := h.callAPI(r.Context(), ss, http.MethodDelete, "/numbers/"+url.PathEscape(number)+"?cascade=true", nil, nil)
	if err != nil {
		h.internal(w, r, ss, err)
		return
	}
	if p != nil {
		h.renderNumbers(w, r, ss, p.Status, &form{Summary: problemText(p)})
		return
	}
	back(w, r, "/numbers", "deletedNamed", number)
}
