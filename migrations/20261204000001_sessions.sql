-- The staff page's sessions. The cookie holds a random 256-bit id; only its
-- SHA-256 is kept here (like api_tokens.token_hash), so a copy of the
-- database cannot log anyone in. A session is refused once it expires, and
-- deleted at logout or when its token is revoked (trigger below); the join
-- on a live token in every lookup makes revocation immediate even before
-- that.
create table admin_sessions (
    id_hash    bytea primary key,
    token_id   bigint not null references api_tokens (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create index admin_sessions_token on admin_sessions (token_id);
create index admin_sessions_expires on admin_sessions (expires_at);

create function end_sessions_of_revoked_token() returns trigger
language plpgsql as $$
begin
    delete from admin_sessions where token_id = new.id;
    return new;
end;
$$;

create trigger api_tokens_revoked_ends_sessions
    after update of revoked_at on api_tokens
    for each row when (new.revoked_at is not null)
    execute function end_sessions_of_revoked_token();

-- Which players a kept Idempotency-Key response is about (read from its
-- JSON when it is saved), so that `ondeck purge` deletes it with their
-- other personal data instead of leaving it for 24 hours.
alter table idempotency_keys add column player_ids bigint[] not null default '{}';
