#include "csqlite_direct.h"
#include <stddef.h>

/* Prototypes of sqlite-nio's prefixed SQLite (see the header). */
typedef long long kdb_int64;
typedef void (*kdb_destructor)(void *);
#define KDB_TRANSIENT ((kdb_destructor)-1)

int sqlite_nio_sqlite3_open_v2(const char *filename, kdb_db **ppDb, int flags, const char *zVfs);
int sqlite_nio_sqlite3_close_v2(kdb_db *);
int sqlite_nio_sqlite3_busy_timeout(kdb_db *, int ms);
int sqlite_nio_sqlite3_exec(kdb_db *, const char *sql, int (*callback)(void *, int, char **, char **), void *, char **errmsg);
const char *sqlite_nio_sqlite3_errmsg(kdb_db *);
int sqlite_nio_sqlite3_get_autocommit(kdb_db *db);
int sqlite_nio_sqlite3_prepare_v2(kdb_db *db, const char *zSql, int nByte, kdb_stmt **ppStmt, const char **pzTail);
int sqlite_nio_sqlite3_step(kdb_stmt *);
int sqlite_nio_sqlite3_reset(kdb_stmt *pStmt);
int sqlite_nio_sqlite3_clear_bindings(kdb_stmt *);
int sqlite_nio_sqlite3_finalize(kdb_stmt *pStmt);
int sqlite_nio_sqlite3_bind_text(kdb_stmt *, int, const char *, int, kdb_destructor);
int sqlite_nio_sqlite3_bind_blob(kdb_stmt *, int, const void *, int n, kdb_destructor);
int sqlite_nio_sqlite3_bind_double(kdb_stmt *, int, double);
int sqlite_nio_sqlite3_bind_int64(kdb_stmt *, int, kdb_int64);
int sqlite_nio_sqlite3_bind_null(kdb_stmt *, int);
int sqlite_nio_sqlite3_column_count(kdb_stmt *pStmt);
const char *sqlite_nio_sqlite3_column_name(kdb_stmt *, int N);
int sqlite_nio_sqlite3_column_type(kdb_stmt *, int iCol);
kdb_int64 sqlite_nio_sqlite3_column_int64(kdb_stmt *, int iCol);
double sqlite_nio_sqlite3_column_double(kdb_stmt *, int iCol);
const unsigned char *sqlite_nio_sqlite3_column_text(kdb_stmt *, int iCol);
const void *sqlite_nio_sqlite3_column_blob(kdb_stmt *, int iCol);
int sqlite_nio_sqlite3_column_bytes(kdb_stmt *, int iCol);

int kdb_open(const char *path, int flags, kdb_db **db) { return sqlite_nio_sqlite3_open_v2(path, db, flags, NULL); }
int kdb_close(kdb_db *db) { return sqlite_nio_sqlite3_close_v2(db); }
int kdb_busy_timeout(kdb_db *db, int milliseconds) { return sqlite_nio_sqlite3_busy_timeout(db, milliseconds); }
int kdb_exec(kdb_db *db, const char *sql) { return sqlite_nio_sqlite3_exec(db, sql, NULL, NULL, NULL); }
const char *kdb_errmsg(kdb_db *db) { return sqlite_nio_sqlite3_errmsg(db); }
int kdb_get_autocommit(kdb_db *db) { return sqlite_nio_sqlite3_get_autocommit(db); }

int kdb_prepare(kdb_db *db, const char *sql, kdb_stmt **statement) {
    return sqlite_nio_sqlite3_prepare_v2(db, sql, -1, statement, NULL);
}
int kdb_step(kdb_stmt *statement) { return sqlite_nio_sqlite3_step(statement); }
int kdb_reset(kdb_stmt *statement) { return sqlite_nio_sqlite3_reset(statement); }
int kdb_clear_bindings(kdb_stmt *statement) { return sqlite_nio_sqlite3_clear_bindings(statement); }
int kdb_finalize(kdb_stmt *statement) { return sqlite_nio_sqlite3_finalize(statement); }

int kdb_bind_text(kdb_stmt *statement, int index, const char *text, int bytes) {
    return sqlite_nio_sqlite3_bind_text(statement, index, text, bytes, KDB_TRANSIENT);
}
int kdb_bind_blob(kdb_stmt *statement, int index, const void *bytes, int count) {
    return sqlite_nio_sqlite3_bind_blob(statement, index, bytes, count, KDB_TRANSIENT);
}
int kdb_bind_double(kdb_stmt *statement, int index, double value) { return sqlite_nio_sqlite3_bind_double(statement, index, value); }
int kdb_bind_int64(kdb_stmt *statement, int index, long long value) { return sqlite_nio_sqlite3_bind_int64(statement, index, value); }
int kdb_bind_null(kdb_stmt *statement, int index) { return sqlite_nio_sqlite3_bind_null(statement, index); }

int kdb_column_count(kdb_stmt *statement) { return sqlite_nio_sqlite3_column_count(statement); }
const char *kdb_column_name(kdb_stmt *statement, int column) { return sqlite_nio_sqlite3_column_name(statement, column); }
int kdb_column_type(kdb_stmt *statement, int column) { return sqlite_nio_sqlite3_column_type(statement, column); }
long long kdb_column_int64(kdb_stmt *statement, int column) { return sqlite_nio_sqlite3_column_int64(statement, column); }
double kdb_column_double(kdb_stmt *statement, int column) { return sqlite_nio_sqlite3_column_double(statement, column); }
const unsigned char *kdb_column_text(kdb_stmt *statement, int column) { return sqlite_nio_sqlite3_column_text(statement, column); }
const void *kdb_column_blob(kdb_stmt *statement, int column) { return sqlite_nio_sqlite3_column_blob(statement, column); }
int kdb_column_bytes(kdb_stmt *statement, int column) { return sqlite_nio_sqlite3_column_bytes(statement, column); }
