-- ondeck's schema: shows, teams, players, games and their state machine,
-- API tokens, the job outbox and idempotency keys.

-- Every table has created_at/updated_at; this trigger keeps updated_at honest
-- so no query has to remember it.
create or replace function set_updated_at() returns trigger as $$
begin
    new.updated_at = now();
    return new;
end;
$$ language plpgsql;

create or replace function trigger_updated_at(tablename regclass) returns void as $$
begin
    execute format('create trigger set_updated_at before update on %s
        for each row when (old is distinct from new) execute function set_updated_at();', tablename);
end;
$$ language plpgsql;

-- A show is one event day (or run of days); the current show is the one with
-- the latest date.
create table shows (
    id               bigint generated always as identity primary key,
    name             text not null check (length(name) between 1 and 200),
    date             date not null,
    welcome_message  text not null check (length(welcome_message) <= 160),
    recall_message   text not null check (length(recall_message) <= 160),
    souvenir_message text not null check (length(souvenir_message) <= 160 and position('{url}' in souvenir_message) > 0),
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index shows_current on shows (date desc, id desc);
select trigger_updated_at('shows');

-- Team names are typed by people on tablets: unique regardless of case.
create table teams (
    id         bigint generated always as identity primary key,
    name       text not null check (length(name) between 1 and 64),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index teams_name_key on teams (lower(name));
select trigger_updated_at('teams');

create table players (
    id            bigint generated always as identity primary key,
    show_id       bigint not null references shows (id),
    team_id       bigint references teams (id),
    first_name    text not null check (length(first_name) between 1 and 64),
    last_name     text check (length(last_name) <= 64),
    -- E.164, written only through MobileNumber::parse.
    mobile_number text check (mobile_number ~ '^\+[1-9][0-9]{6,14}$'),
    email         text check (length(email) <= 254),
    handedness    char(1) not null check (handedness in ('L', 'R')),
    signed_waiver boolean not null default false,
    profile_id    text check (length(profile_id) <= 128),
    is_finalist   boolean not null default false,
    photo_key     text,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create index players_team on players (team_id);
create index players_show on players (show_id);
select trigger_updated_at('players');

-- The states of domain::state::GameState; the transitions between them live
-- in one Rust table (domain/src/state.rs), which also produces the guards.
create type game_state as enum ('new', 'queued', 'recalled', 'confirmed', 'playing', 'completed', 'cancelled');

create table games (
    id           bigint generated always as identity primary key,
    player_id    bigint not null references players (id),
    show_id      bigint not null references shows (id),
    state        game_state not null default 'new',
    score        integer check (score between 0 and 1000000),
    distance     integer check (distance between 0 and 1000000),
    homeruns     integer check (homeruns between 0 and 1000000),
    -- The first time the game entered each state; null until then.
    queued_at    timestamptz,
    recalled_at  timestamptz,
    confirmed_at timestamptz,
    playing_at   timestamptz,
    completed_at timestamptz,
    cancelled_at timestamptz,
    souvenir_url text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);
-- A player has at most one game that is not over: the database holds this
-- invariant, so no race between two tablets can break it.
create unique index games_one_open_per_player on games (player_id)
    where state not in ('completed', 'cancelled');
create index games_player on games (player_id, id desc);
create index games_show_state on games (show_id, state);
create index games_queue on games (show_id, queued_at, id) where state = 'queued';
create index games_leaderboard on games (show_id, score desc, distance desc, completed_at)
    where state = 'completed';
select trigger_updated_at('games');

create type token_role as enum ('admin', 'tablet', 'game', 'display');

-- Tokens are 256-bit random strings: a SHA-256 of them is as strong as a
-- slow password hash and costs microseconds per request.
create table api_tokens (
    id         bigint generated always as identity primary key,
    name       text not null unique check (length(name) between 1 and 100),
    role       token_role not null,
    token_hash bytea not null unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    revoked_at timestamptz
);
select trigger_updated_at('api_tokens');

-- Jobs caused by a request are written here in the same transaction as the
-- change that causes them; the relay moves them to Redis. A crash or a Redis
-- outage delays a job but never loses it or rolls back the request.
create table outbox (
    id          bigint generated always as identity primary key,
    kind        text not null,
    payload     jsonb not null,
    created_at  timestamptz not null default now(),
    relayed_at  timestamptz
);
create index outbox_pending on outbox (id) where relayed_at is null;

-- Idempotency-Key: the first response to a POST is kept for 24 hours and
-- replayed for a repeat with the same key and body.
create table idempotency_keys (
    token_id     bigint not null references api_tokens (id) on delete cascade,
    key          text not null,
    request_hash bytea not null,
    status       smallint,
    content_type text,
    body         bytea,
    created_at   timestamptz not null default now(),
    primary key (token_id, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);

-- Periodic jobs (the recall sweep) run in every worker process; a row per
-- job, claimed with a conditional UPDATE, makes each period run once.
create table periodic_runs (
    name        text primary key,
    last_run_at timestamptz not null default '-infinity'
);
