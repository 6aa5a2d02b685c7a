#ifndef CSQLITE_DIRECT_H
#define CSQLITE_DIRECT_H

/*
 * The few entry points of SQLite that Karyon calls synchronously (KaryonStore's DirectSQLite),
 * resolved against the SQLite library that SQLiteNIO compiles in (sqlite-nio's VaporCSQLite
 * target, whose symbols carry the prefix `sqlite_nio_`). Using that one copy matters: SQLite's
 * POSIX locks are per process and per library copy, so a second copy of SQLite opening the same
 * database file could release the other copy's locks when it closes a file.
 *
 * Declarations follow sqlite3.h (https://sqlite.org/c3ref/intro.html).
 */

typedef struct sqlite3 kdb_db;
typedef struct sqlite3_stmt kdb_stmt;

#define KDB_OK 0
#define KDB_ROW 100
#define KDB_DONE 101
#define KDB_OPEN_READWRITE 0x00000002
#define KDB_OPEN_FULLMUTEX 0x00010000
#define KDB_INTEGER 1
#define KDB_FLOAT 2
#define KDB_TEXT 3
#define KDB_BLOB 4
#define KDB_NULL 5

int kdb_open(const char *path, int flags, kdb_db **db);
int kdb_close(kdb_db *db);
int kdb_busy_timeout(kdb_db *db, int milliseconds);
int kdb_exec(kdb_db *db, const char *sql);
const char *kdb_errmsg(kdb_db *db);
/* Nonzero when no transaction is open on the connection. */
int kdb_get_autocommit(kdb_db *db);

int kdb_prepare(kdb_db *db, const char *sql, kdb_stmt **statement);
int kdb_step(kdb_stmt *statement);
int kdb_reset(kdb_stmt *statement);
int kdb_clear_bindings(kdb_stmt *statement);
int kdb_finalize(kdb_stmt *statement);

/* Text and blobs are copied by SQLite (SQLITE_TRANSIENT). */
int kdb_bind_text(kdb_stmt *statement, int index, const char *text, int bytes);
int kdb_bind_blob(kdb_stmt *statement, int index, const void *bytes, int count);
int kdb_bind_double(kdb_stmt *statement, int index, double value);
int kdb_bind_int64(kdb_stmt *statement, int index, long long value);
int kdb_bind_null(kdb_stmt *statement, int index);

int kdb_column_count(kdb_stmt *statement);
const char *kdb_column_name(kdb_stmt *statement, int column);
int kdb_column_type(kdb_stmt *statement, int column);
long long kdb_column_int64(kdb_stmt *statement, int column);
double kdb_column_double(kdb_stmt *statement, int column);
const unsigned char *kdb_column_text(kdb_stmt *statement, int column);
const void *kdb_column_blob(kdb_stmt *statement, int column);
int kdb_column_bytes(kdb_stmt *statement, int column);

#endif
