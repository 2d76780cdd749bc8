//! The driver calls every dialect makes the same way once its driver's types are concrete.

use sqlx::query::Query;
use sqlx::{Arguments, Database, IntoArguments, Pool, Transaction, Type};

use super::Dialect;
use crate::error::{SqlError, SqlResult};

/// The statement `text` with its bound `args`, kept in the connection's statement cache when
/// `persistent` (each dialect's `fetch_all` and `execute` run it on their concrete driver).
pub(crate) fn statement<DB>(
    text: String,
    args: DB::Arguments,
    persistent: bool,
) -> Query<'static, DB, DB::Arguments>
where
    DB: Database + sqlx::database::HasStatementCache,
    DB::Arguments: IntoArguments<DB>,
{
    sqlx::query_with(sqlx::AssertSqlSafe(text), args).persistent(persistent)
}

/// The `fetch_all` and `execute` of a [`Dialect`] impl, the same for every driver once the
/// driver's types are concrete (expanded inside each `impl Dialect`).
macro_rules! driver_glue {
    ($conn:ty, $row:ty) => {
        async fn fetch_all(
            conn: &mut $conn,
            sql: $crate::sql::Sql,
            context: &'static str,
        ) -> $crate::error::SqlResult<Vec<$row>> {
            let persistent = sql.is_persistent();
            let (text, args) = sql.into_parts();
            $crate::dialect::statement::<Self::DB>(
                Self::read_text(text),
                Self::arguments(args)?,
                persistent,
            )
            .fetch_all(conn)
            .await
            .map_err($crate::error::SqlError::driver(context))
        }

        async fn execute(
            conn: &mut $conn,
            sql: $crate::sql::Sql,
            context: &'static str,
        ) -> $crate::error::SqlResult<u64> {
            let persistent = sql.is_persistent();
            let (text, args) = sql.into_parts();
            $crate::dialect::statement::<Self::DB>(text, Self::arguments(args)?, persistent)
                .execute(conn)
                .await
                .map(|done| done.rows_affected())
                .map_err($crate::error::SqlError::driver(context))
        }
    };
}

pub(crate) use driver_glue;

/// Adds one value to the driver's argument list (used by each dialect's `arguments`).
pub(crate) fn add<A: Arguments, T>(args: &mut A, value: T) -> SqlResult<()>
where
    T: for<'q> sqlx::Encode<'q, A::Database> + Type<A::Database>,
{
    args.add(value).map_err(SqlError::Encode)
}

/// Begins a transaction with `statement`.
pub(crate) async fn begin<D: Dialect>(
    pool: &Pool<D::DB>,
    statement: &'static str,
) -> SqlResult<Transaction<'static, D::DB>> {
    pool.begin_with(statement)
        .await
        .map_err(SqlError::driver("begin a transaction"))
}
