-- Withdrawing is as easy as giving (GDPR Art. 7(3)): a person's unsubscribe token (never stored;
-- a MAC under the server's key) withdraws every consent they gave, recorded with its own channel.
ALTER TABLE public.consent_records DROP CONSTRAINT consent_records_channel_check;
ALTER TABLE public.consent_records ADD CONSTRAINT consent_records_channel_check
    CHECK (channel IN ('consent_link', 'staff', 'customer_area', 'web_form', 'api', 'unsubscribe'));
