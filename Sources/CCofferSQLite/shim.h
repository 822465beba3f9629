/* SQLite's process-wide configuration, which Swift cannot reach: sqlite3_config is variadic. */
#ifndef COFFER_SQLITE_SHIM_H
#define COFFER_SQLITE_SHIM_H
#include <sqlite3.h>

/* Turns SQLite's memory statistics off (on: every allocation takes one process-wide mutex).
   Only before SQLite is initialised; returns SQLITE_MISUSE after. Heap limits are not enforced without them. */
static inline int coffer_sqlite_memory_statistics(int on) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, on);
}
#endif
