-- `ondeck purge --before DATE`: when a player's personal data was removed,
-- and the stored objects still to delete. Objects are deleted after the
-- transaction that cleared their keys commits; a prefix stays here until
-- every object under it is gone, so a failed delete is retried by the next
-- run.
alter table players add column purged_at timestamptz;

create table purge_objects (
    -- e.g. 'photos/12-' (every upload of player 12) or 'souvenirs/34.'
    prefix     text primary key,
    created_at timestamptz not null default now()
);
