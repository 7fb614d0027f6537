-- A user's devices and numbers are read by (tenant, user) in SIP id and
-- number order: on every call the PBX feed routes. Without these indexes
-- the planner walks the tenant's whole (tenant_id, sip_id) index instead.
CREATE INDEX devices_tenant_user ON devices (tenant_id, user_id, sip_id);
CREATE INDEX numbers_tenant_user ON numbers (tenant_id, user_id, e164);
