-- Texts and souvenirs: what the workers record.

-- A job may cause a further job (a souvenir's text); the cause's key makes
-- that second job unique, so a re-delivered first job adds nothing.
alter table outbox add column dedupe_key text unique;
-- Wakes the relay as soon as a job is written (it also polls).
create or replace function notify_outbox() returns trigger as $$
begin
    perform pg_notify('ondeck_outbox', new.id::text);
    return new;
end;
$$ language plpgsql;
create trigger outbox_notify after insert on outbox for each row execute function notify_outbox();

create type message_kind as enum ('welcome', 'recall', 'souvenir');
create type message_status as enum ('queued', 'sent', 'failed', 'delivered');

-- One row per text. It is written before the provider is called; a text
-- whose provider_id is set was accepted and is never sent again.
create table messages (
    id             bigint generated always as identity primary key,
    -- The job that asked for the text: however often that job is relayed or
    -- retried, it finds this same row.
    outbox_id      bigint not null unique references outbox (id),
    game_id        bigint not null references games (id),
    kind           message_kind not null,
    "to"           text not null,
    body           text not null,
    status         message_status not null default 'queued',
    attempts       integer not null default 0,
    -- Set while an attempt is with the provider: if a worker dies there, the
    -- next one asks the provider before sending again.
    attempt_started_at timestamptz,
    provider_id    text,
    error          text,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    sent_at        timestamptz
);
create index messages_status on messages (status, id);
create index messages_game on messages (game_id);
select trigger_updated_at('messages');

-- Short links texted to players: /s/{code} redirects to the souvenir.
create table short_links (
    code       text primary key check (code ~ '^[A-Za-z0-9]{6,16}$'),
    game_id    bigint not null unique references games (id),
    object_key text not null,
    created_at timestamptz not null default now()
);


-- How many periods each periodic job has run: what shows that two worker
-- processes share one sweep per period.
alter table periodic_runs add column runs bigint not null default 0;

-- When a job finished (done, or given up for good). A job relayed long ago
-- and not finished was lost with Redis (a restart without persistence): the
-- relay puts it back. Running a job twice is harmless: tasks are idempotent.
alter table outbox add column done_at timestamptz;
create index outbox_unfinished on outbox (relayed_at) where done_at is null and relayed_at is not null;
