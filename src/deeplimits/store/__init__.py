"""The SQLite results store."""
from deeplimits.store.sqlite import (
    Store,
    StoredRun,
    StoreError,
    check_results_dir,
    pack_results,
    run_key,
    unpack_results,
)

__all__ = ["Store", "StoreError", "StoredRun", "check_results_dir", "pack_results", "run_key", "unpack_results"]
