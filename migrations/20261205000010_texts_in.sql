-- Texts coming in and delivery status: the lookups the Twilio webhooks make.

-- A reply is matched to its sender's game by the number.
create index players_mobile on players (mobile_number) where mobile_number is not null;

-- A status callback names the text by the provider's id.
create index messages_provider on messages (provider_id) where provider_id is not null;

-- An incoming text is recorded once: a webhook delivered (or replayed)
-- again with the same MessageSid changes nothing.
create unique index messages_inbound_sid on messages (provider_id) where direction = 'inbound';

-- How many texts one number sent lately (the flood limit).
create index messages_inbound_from on messages ("to", created_at) where direction = 'inbound';
