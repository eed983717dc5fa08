"""The SQLite results store."""
from deeplimits.store.sqlite import Store, StoredRun, pack_results, run_key, unpack_results

__all__ = ["Store", "StoredRun", "pack_results", "run_key", "unpack_results"]
