"""Tortoise's SQLite backend, with transactions that take the write lock when they begin (BEGIN IMMEDIATE).

`billing dev` runs the API and the worker as two processes on one SQLite file. A deferred transaction
(Tortoise's BEGIN) that reads and then writes fails at once with "database is locked" when the other
process committed in between: in WAL mode a read snapshot that is no longer the latest cannot become a
write, and the busy timeout does not apply. An immediate one waits for the lock (the 5 s busy timeout)
instead, so transactions of the two processes run one after the other."""
import sqlite3

from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionContext, SqliteTransactionWrapper
from tortoise.exceptions import TransactionManagementError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> TransactionContext:
        return SqliteTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
