-- The player's side: a private code per game, the queue key that orders the
-- line, why a game was cancelled, the player's own answers, texts coming in,
-- delivery status and opt-outs.

-- hmac() and gen_random_bytes() for the opt-out hash (a trusted extension:
-- the database's owner may create it).
create extension if not exists pgcrypto;

-- Keys that never leave the database: the key of the keyed hash of phone
-- numbers that opt-outs are kept by (HMAC-SHA256), so that `ondeck purge`
-- can delete a number and its STOP still holds.
create table secret_keys (
    name       text primary key,
    key        bytea not null check (octet_length(key) = 32),
    created_at timestamptz not null default now()
);
insert into secret_keys (name, key) values ('number_hash', gen_random_bytes(32));

create function number_hash(number text) returns bytea
    language sql stable
    return hmac(convert_to(number, 'UTF8'), (select key from secret_keys where name = 'number_hash'), 'sha256');

create type cancel_reason as enum ('staff', 'player_left', 'no_show');

-- The player code: 122 random bits of gen_random_uuid() (PostgreSQL's strong
-- random source), URL-safe base64 without padding, 22 characters. It is
-- looked up by its SHA-256 only (`code_hash`), never compared as text.
create function new_player_code() returns text
    language sql volatile
    return translate(rtrim(encode(decode(replace(gen_random_uuid()::text, '-', ''), 'hex'), 'base64'), '='), '+/', '-_');

-- The queue key orders the waiting line: entering `queued` takes the next
-- value of the sequence (the back of the line); "later" moves a game
-- between two others (numeric: there is always room in between).
create sequence games_queue_key;

alter table games
    add column queue_key       numeric,
    add column cancel_reason   cancel_reason,
    add column acknowledged_at timestamptz,
    -- The last time the game entered `recalled` (`recalled_at` is the first):
    -- what the recall window, its expiry and the no-show sweep count from.
    add column recall_started_at timestamptz,
    add column later_count     integer not null default 0 check (later_count >= 0),
    add column player_code     text default new_player_code(),
    add column code_hash       bytea generated always as (sha256(player_code::bytea)) stored;
update games set player_code = new_player_code() where player_code is null;
update games set queue_key = nextval('games_queue_key')
    from (select id from games where state = 'queued' order by queued_at, id) q where games.id = q.id;
update games set cancel_reason = 'staff' where state = 'cancelled';
update games set recall_started_at = recalled_at;
create unique index games_code_hash on games (code_hash);
drop index games_queue;
create index games_queue on games (show_id, queue_key, id) where state = 'queued';
create index games_recalled on games (recall_started_at) where state = 'recalled';

alter table shows add column no_show_message text not null
    default 'We called you but couldn''t find you. Join the line again: {link}'
    check (length(no_show_message) <= 160);

-- Texts both ways: replies come in with no job and often no game.
alter type message_kind add value 'no_show';
alter type message_kind add value 'verify';
alter type message_kind add value 'reply';
create type message_direction as enum ('outbound', 'inbound');
alter table messages
    add column direction  message_direction not null default 'outbound',
    add column error_code text check (length(error_code) <= 16),
    alter column outbox_id drop not null,
    alter column game_id drop not null;

-- Numbers that answered STOP (or that the provider reports as opted out),
-- by number_hash(): no text is sent to them until they answer START.
create table sms_opt_outs (
    number_hash bytea primary key,
    created_at  timestamptz not null default now()
);
