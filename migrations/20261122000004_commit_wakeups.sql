-- A NOTIFY inside a transaction makes PostgreSQL serialize the commits of
-- every notifying transaction (it holds one lock across the WAL flush), so a
-- trigger that notifies on each event or outbox row capped ondeck at one
-- fsync per write request. Writers now commit without notifying and wake
-- the listeners afterwards, from a connection of their own (see
-- domain/src/store/wake.rs); the listeners still poll, so a lost wake-up
-- only delays.
drop trigger events_notify on events;
drop function notify_event();
drop trigger outbox_notify on outbox;
drop function notify_outbox();
