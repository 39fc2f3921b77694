-- Joining from a phone (docs/running-the-line.md): a player asks for a code
-- by text, and only the right code within its time makes their game. One
-- row per code asked for; the rows also count the codes each number and
-- each client address asked for lately (the limits).
create table join_codes (
    -- Opaque and random: the join page keeps it in a hidden field.
    id           text primary key check (id ~ '^[A-Za-z0-9_-]{22}$'),
    show_id      bigint not null references shows (id) on delete cascade,
    -- E.164, as players' numbers are stored.
    mobile_number text not null,
    client_addr  text not null,
    -- sha256 of the join id and the code: the code itself is kept only in
    -- the text sent (see messages), never here.
    code_hash    bytea not null,
    tries        integer not null default 0,
    -- What the player typed, checked again when the code is right.
    details      jsonb not null,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null,
    -- The right code was given: the row cannot be used again.
    used_at      timestamptz
);
create index join_codes_number on join_codes (mobile_number, created_at);
create index join_codes_client on join_codes (client_addr, created_at);
create index join_codes_created on join_codes (created_at);
