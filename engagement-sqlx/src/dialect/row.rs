//! [`ReadRow`]: typed reads of a row's columns.

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::{SqlError, SqlResult};

/// Typed reads of one row's columns, the same on every database.
pub(crate) trait ReadRow {
    fn int(&self, index: usize) -> SqlResult<i64>;
    fn opt_int(&self, index: usize) -> SqlResult<Option<i64>>;
    fn small(&self, index: usize) -> SqlResult<i16>;
    fn opt_small(&self, index: usize) -> SqlResult<Option<i16>>;
    fn text(&self, index: usize) -> SqlResult<String>;
    /// The text column `index`, borrowed from the row.
    fn str(&self, index: usize) -> SqlResult<&str>;
    /// The nullable text column `index`, borrowed from the row.
    fn opt_str(&self, index: usize) -> SqlResult<Option<&str>>;
}

impl<R> ReadRow for R
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    i16: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'r> &'r str: Type<R::Database> + Decode<'r, R::Database>,
{
    fn int(&self, index: usize) -> SqlResult<i64> {
        get(self, index)
    }
    fn opt_int(&self, index: usize) -> SqlResult<Option<i64>> {
        get(self, index)
    }
    fn small(&self, index: usize) -> SqlResult<i16> {
        get(self, index)
    }
    fn opt_small(&self, index: usize) -> SqlResult<Option<i16>> {
        get(self, index)
    }
    fn text(&self, index: usize) -> SqlResult<String> {
        get(self, index)
    }
    fn str(&self, index: usize) -> SqlResult<&str> {
        self.try_get(index)
            .map_err(SqlError::driver("read a column"))
    }
    fn opt_str(&self, index: usize) -> SqlResult<Option<&str>> {
        self.try_get(index)
            .map_err(SqlError::driver("read a column"))
    }
}

fn get<R, T>(row: &R, index: usize) -> SqlResult<T>
where
    R: Row,
    usize: ColumnIndex<R>,
    T: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    row.try_get(index)
        .map_err(SqlError::driver("read a column"))
}
