-- `games.code_hash` was a generated column. PostgreSQL refuses a BEFORE
-- trigger whose WHEN condition reads NEW's generated columns, and the
-- `set_updated_at` trigger of every table compares `old` with `new` whole:
-- a database with both could be dumped but not restored. So the hash is an
-- ordinary column, kept by a trigger of its own, with the same values.
alter table games alter column code_hash drop expression;

create function set_code_hash() returns trigger
    language plpgsql as $$
begin
    new.code_hash = sha256(new.player_code::bytea);
    return new;
end;
$$;

create trigger set_code_hash before insert or update of player_code on games
    for each row execute function set_code_hash();
