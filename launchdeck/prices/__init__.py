"""Public list prices the cost estimate reads, shipped with the package (one JSON file per cloud)."""
