-- The event log behind GET /api/v1/events: every transition, signup and
-- souvenir, written in the same transaction as the change, so a rolled-back
-- change emits nothing. Its id is the SSE event id; a reconnecting client
-- replays what it missed from here. Pruned to the most recent events.
create table events (
    id         bigint generated always as identity primary key,
    kind       text not null,
    -- The game as a client without PII sees it, plus previous_state.
    payload    jsonb not null,
    created_at timestamptz not null default now()
);

-- Every API process LISTENs; the notification carries only the id.
create or replace function notify_event() returns trigger as $$
begin
    perform pg_notify('ondeck_events', new.id::text);
    return new;
end;
$$ language plpgsql;
create trigger events_notify after insert on events for each row execute function notify_event();
