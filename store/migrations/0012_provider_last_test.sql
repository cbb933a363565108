-- Each provider's last credential check is kept, so the health panel and the providers list
-- show it after a reload or to another admin, not only in the session that ran it.

ALTER TABLE provider_credentials
    ADD COLUMN last_test_ok boolean,
    ADD COLUMN last_test_at timestamptz,
    ADD COLUMN last_test_message text;
