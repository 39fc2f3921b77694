//! Numbers that answered STOP, kept only as `number_hash(number)` (a keyed
//! HMAC-SHA256 whose key stays in the database): `ondeck purge` deletes the
//! numbers themselves, and the opt-out still holds.

use sqlx::PgConnection;

use crate::error::Result;

/// No text goes to `number` (E.164) until it opts in again.
pub async fn opt_out(conn: &mut PgConnection, number: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO sms_opt_outs (number_hash) VALUES (number_hash($1)) ON CONFLICT DO NOTHING",
    )
    .bind(number)
    .execute(conn)
    .await?;
    Ok(())
}

/// `number` may be texted again.
pub async fn opt_in(conn: &mut PgConnection, number: &str) -> Result<()> {
    sqlx::query("DELETE FROM sms_opt_outs WHERE number_hash = number_hash($1)")
        .bind(number)
        .execute(conn)
        .await?;
    Ok(())
}
