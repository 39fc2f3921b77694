-- The key that signs local storage's `/media/` URLs (jobs/src/media_key.rs).
-- One row. The first process to start after this migration inserts 32 random
-- bytes from its own CSPRNG (`INSERT ... ON CONFLICT DO NOTHING`, so when
-- several start at once one key wins and all of them read it back); every
-- API process reads it at start-up, so a URL signed by one verifies in every
-- other and after a restart. Rotation: delete the row, then restart every
-- process (README, "Photos and souvenirs"); URLs signed before stop working.
create table media_signing_key (
    -- Always true: the primary key allows exactly one row.
    id         boolean primary key default true check (id),
    key        bytea not null check (octet_length(key) = 32),
    created_at timestamptz not null default now()
);

-- Souvenirs recorded before this as a bare local URL ('{base}/media/{key}',
-- which now answers 404) get their lasting short link '{base}/s/{code}', as
-- the worker records from now on. (The string comparison, not LIKE: keys
-- may hold '_'.)
update games g
set souvenir_url = left(g.souvenir_url, length(g.souvenir_url) - length('/media/' || l.object_key))
                   || '/s/' || l.code
from short_links l
where l.game_id = g.id
  and right(g.souvenir_url, length('/media/' || l.object_key)) = '/media/' || l.object_key;
