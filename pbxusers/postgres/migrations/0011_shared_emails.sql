-- Users may share an email address (RFC 7643: emails.value has uniqueness
-- "none"); a tenant that wants them unique says so (Tenant.UniqueEmails)
-- and the library checks it. The index stays for look-ups by address.
DROP INDEX user_emails_address;
CREATE INDEX user_emails_address ON user_emails (tenant_id, address_lc);
